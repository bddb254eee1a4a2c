import { userInfo } from "node:os";
import type { Caller } from "./domain/context.js";

/**
 * Who ran a CLI command, for the audit log: the OS user, or the uid where
 * there is no passwd entry (containers run under an arbitrary uid, where
 * userInfo() throws; a breach command must not fail for that).
 */
export function operatorCaller(): Caller {
  try {
    return { id: `cli:${userInfo().username}` };
  } catch {
    return { id: `cli:uid-${process.getuid?.() ?? "unknown"}` };
  }
}
