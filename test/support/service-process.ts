import { spawn, type ChildProcess } from "node:child_process";
import { sharedKekFile } from "./kek.js";
import { recordLogLine } from "./secret-scan.js";

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Resolves with the bound ports once the process logs that it serves. */
  readonly serving: Promise<{ grpcPort: number; httpPort: number }>;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** Recent lines of stdout and stderr together. */
  readonly output: string[];
  /** Everything written to stdout alone (command output, without stderr logs). */
  stdout(): string;
}

/**
 * Runs `session-authority <command>` as a separate process, the way an
 * operator would. Readiness is read from the "serving" log line, so LOG_LEVEL
 * must stay at info or below.
 */
/**
 * Runs the CLI as an operator would. With DATABASE_URL the processes of a test
 * file share one KEK (as replicas must) unless the test sets KEK_FILE itself.
 */
export interface RunOptions {
  /** Run `dist/src/cli.js` (after `npm run build`), as the image does, instead of the sources through tsx. */
  readonly compiled?: boolean;
  /** Extra Node.js flags, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
}

export function runCli(command: string | readonly string[], env: Record<string, string>, options: RunOptions = {}): ServiceProcess {
  const kek = env["DATABASE_URL"] !== undefined && env["KEK_FILE"] === undefined ? { KEK_FILE: sharedKekFile() } : {};
  const args = typeof command === "string" ? [command] : [...command];
  const entry = options.compiled === true ? ["dist/src/cli.js"] : ["--import", "tsx", "src/cli.ts"];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...entry, ...args], {
    env: { PATH: process.env["PATH"] ?? "", GRPC_PORT: "0", HTTP_PORT: "0", LOG_LEVEL: "info", ...kek, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  let onServing: (ports: { grpcPort: number; httpPort: number }) => void = () => undefined;
  const serving = new Promise<{ grpcPort: number; httpPort: number }>((resolve, reject) => {
    onServing = resolve;
    child.once("exit", (code) => reject(new Error(`exited with ${code} before serving:\n${output.join("\n")}`)));
  });
  serving.catch(() => undefined);
  let servingSeen = false;
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
      // Keep the most recent lines only: a bench run logs one line per call.
      recordLogLine(line);
      if (output.push(line) > 500) output.shift();
      const match = servingSeen ? null : /"grpc":"[^"]*:(\d+)","http":"[^"]*:(\d+)"/.exec(line);
      if (match) {
        servingSeen = true;
        onServing({ grpcPort: Number(match[1]), httpPort: Number(match[2]) });
      }
    }
  };
  const stdout: Buffer[] = [];
  child.stdout?.on("data", (chunk: Buffer) => {
    if (command !== "serve") stdout.push(chunk);
    collect(chunk);
  });
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, serving, exited, output, stdout: () => Buffer.concat(stdout).toString("utf8") };
}
