import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/** Writes a POLICY_FILE naming what each caller may call; returns its path. */
export async function writePolicyFile(callers: Record<string, string[]>): Promise<string> {
  const file = path.join(await mkdtemp(path.join(tmpdir(), "sa-policy-")), "policy.json");
  await writeFile(file, JSON.stringify({ callers }));
  return file;
}
