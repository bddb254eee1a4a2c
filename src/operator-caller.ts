import { userInfo } from "node:os";
import type { Caller } from "./domain/context.js";

/**
 * Who ran a CLI command, for the audit log: the OS user, or the uid where
 * there is no passwd entry (containers run under an arbitrary uid, where
 * userInfo() throws; a breach command must not fail for that). An operator
 * with access to the database reaches every caller's sessions.
 */
export function operatorCaller(): Caller {
  try {
    return { id: `cli:${userInfo().username}`, anyCaller: true };
  } catch {
    return { id: `cli:uid-${process.getuid?.() ?? "unknown"}`, anyCaller: true };
  }
}
