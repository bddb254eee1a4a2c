import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { apiKeyMetadata, connectClients, apiKeysSetting } from "../support/clients.js";
import { readDockerfile, replayDockerfile, type ReplayedStage } from "../support/dockerfile-replay.js";
import { healthCheck } from "../support/health.js";

describe("the Dockerfile, replayed without Docker", () => {
  const folders: string[] = [];
  afterAll(async () => {
    await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
  });

  it("builds an image whose runtime stage serves as a non-root user on the documented ports", async () => {
    const instructions = await readDockerfile("Dockerfile");
    const into = await mkdtemp(path.join(tmpdir(), "sa-docker-"));
    folders.push(into);
    const stages = await replayDockerfile(process.cwd(), instructions, into);
    const runtime = stages.at(-1) as ReplayedStage;
    expect(stages.map((stage) => stage.image)).toEqual(["node:20-slim", "node:20-slim"]);
    expect(runtime.instructions.some((i) => i.keyword === "RUN" && i.args.includes("npm ci --omit=dev"))).toBe(true);
    expect(runtime.user).toBe("node");
    expect(runtime.instructions.find((i) => i.keyword === "EXPOSE")?.args).toBe("50051 8080");
    expect(runtime.instructions.find((i) => i.keyword === "VOLUME")?.args).toBe(runtime.env["DATA_DIR"]);
    expect(runtime.skipped).toEqual(["mkdir -p /var/lib/session-authority && chown node:node /var/lib/session-authority"]);

    // Start the runtime stage the way the image's ENTRYPOINT does, on loopback.
    const appDir = path.join(into, runtime.name, runtime.workdir);
    const apiKey = "docker-replay-key";
    const child = spawn(process.execPath, ["dist/src/cli.js", "serve"], {
      cwd: appDir,
      env: {
        PATH: process.env["PATH"] ?? "",
        ...runtime.env,
        GRPC_HOST: "127.0.0.1",
        HTTP_HOST: "127.0.0.1",
        GRPC_PORT: "0",
        HTTP_PORT: "0",
        DATA_DIR: path.join(into, "data"),
        API_KEYS: apiKeysSetting({ replay: apiKey }),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      const grpcPort = await new Promise<number>((resolve, reject) => {
        let seen = "";
        const onData = (chunk: Buffer) => {
          seen += chunk.toString("utf8");
          const match = /"grpc":"[^"]*:(\d+)"/.exec(seen);
          if (match) resolve(Number(match[1]));
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        child.once("exit", (code) => reject(new Error(`runtime stage exited with ${code}: ${seen}`)));
      });
      expect(await healthCheck(grpcPort)).toBe("SERVING");
      const clients = connectClients(grpcPort);
      const created = await clients.session("CreateSession", { user_id: "docker" }, apiKeyMetadata(apiKey));
      expect(created.session?.created_by).toBe("replay");
      clients.close();
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  }, 600_000);
});
