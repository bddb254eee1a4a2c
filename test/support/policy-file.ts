import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * Writes a POLICY_FILE naming what each caller may call and, optionally, the
 * only organisations some callers may see and per-caller rates; returns its path.
 */
export async function writePolicyFile(
  callers: Record<string, string[]>,
  extra: { orgs?: Record<string, string[]>; rateLimits?: Record<string, number> } = {},
): Promise<string> {
  const file = path.join(await mkdtemp(path.join(tmpdir(), "sa-policy-")), "policy.json");
  await writeFile(file, JSON.stringify({ callers, ...extra }));
  return file;
}
