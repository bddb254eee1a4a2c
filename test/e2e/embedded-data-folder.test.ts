import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../support/service-process.js";
import { waitUntil } from "../support/wait.js";

describe("the embedded data folder", () => {
  const folders: string[] = [];
  const folder = async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "sa-data-"));
    folders.push(dir);
    return dir;
  };
  afterEach(async () => {
    await Promise.all(folders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("belongs to one process: `keys` goes through the running server's RPCs, what needs the folder exits with a clear message", async () => {
    const DATA_DIR = await folder();
    const server = runCli("serve", { DATA_DIR, GRPC_PORT: "0" });
    const { grpcPort } = await server.serving;
    const rotated = runCli(["keys", "rotate", "--reason", "while-serving"], { DATA_DIR, GRPC_PORT: String(grpcPort) });
    expect(await rotated.exited).toBe(0);
    expect(rotated.stdout()).toContain("acting through its RPCs");
    expect(rotated.stdout()).toMatch(/published \S+; it signs from /);
    const rewrap = runCli(["keys", "rewrap"], { DATA_DIR, GRPC_PORT: String(grpcPort) });
    expect(await rewrap.exited).toBe(1);
    expect(rewrap.output.join("\n")).toContain(`is in use by process ${server.child.pid}`);
    // A second server, or an operator command, on the same folder: the same clear refusal.
    for (const command of [["serve"], ["sessions", "find", "--user", "u"]]) {
      const second = runCli(command, { DATA_DIR, GRPC_PORT: "0" });
      expect(await second.exited, command.join(" ")).toBe(1);
      expect(second.output.join("\n")).toContain(`the data folder ${DATA_DIR} is in use by process ${server.child.pid}`);
    }
    // The server's access log is written in batches, at least every second.
    await waitUntil(async () => server.output.some((line) => line.includes('"msg":"call"') && line.includes("TokenService/RotateSigningKey")), 5_000);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);

    const listed = runCli(["keys", "list", "--json"], { DATA_DIR });
    expect(await listed.exited).toBe(0);
    const keys = (JSON.parse(listed.stdout()) as { keys: { stage: string; kekId: string }[] }).keys;
    expect(keys.map((key) => key.stage)).toEqual(["published", "signing"]);
  }, 60_000);

  it("takes over a lock left by a process that is gone", async () => {
    const DATA_DIR = await folder();
    // A pid far above Linux's default pid_max, so no live process has it.
    await writeFile(path.join(DATA_DIR, "session-authority.lock"), "4194303999\n");
    const run = runCli(["keys", "list"], { DATA_DIR });
    expect(await run.exited).toBe(0);
    // Kids are base64url and may start with "-": still read as a kid, not a flag.
    const revoke = runCli(["keys", "revoke", "-no-such-kid", "--reason", "test"], { DATA_DIR });
    expect(await revoke.exited).toBe(1);
    expect(revoke.output.join("\n")).toContain("no signing key has this kid");
  }, 60_000);
});
