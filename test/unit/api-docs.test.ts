import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

describe("docs/api.md", () => {
  it("is generated from the current protos (npm run generate:docs changes nothing)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "sa-api-docs-"));
    try {
      execFileSync("node", ["scripts/generate-api-docs.mjs", path.join(dir, "api.md")], { stdio: "pipe" });
      const fresh = await readFile(path.join(dir, "api.md"), "utf8");
      expect(fresh).toBe(await readFile("docs/api.md", "utf8"));
      // Every RPC is there, with its comment.
      expect(fresh).toContain("#### TokenService.RefreshTokens");
      expect(fresh).toContain("#### TokenService.WatchRevocations");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
