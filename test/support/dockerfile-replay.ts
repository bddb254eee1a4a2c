import { execFile } from "node:child_process";
import { cp, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

// There is no Docker engine on our machines, so CI replays the Dockerfile
// itself: each stage in its own folder, COPY and RUN as written. RUN steps
// that only prepare the image's system folders (mkdir/chown outside the
// work dir) cannot run on the host and are reported instead.

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

export interface ReplayedStage {
  readonly name: string;
  readonly image: string;
  readonly workdir: string;
  readonly env: Record<string, string>;
  readonly user: string | undefined;
  readonly skipped: string[];
  readonly instructions: Instruction[];
}

export async function readDockerfile(file: string): Promise<Instruction[]> {
  const text = (await readFile(file, "utf8")).replace(/\\\n/g, " ");
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith("#"))
    .map((line) => {
      const space = line.indexOf(" ");
      return { keyword: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() };
    });
}

/** The ENV of the Dockerfile's last stage (the image that runs). */
export function imageEnv(instructions: readonly Instruction[]): Record<string, string> {
  const last = instructions.map((instruction) => instruction.keyword).lastIndexOf("FROM");
  return Object.assign({}, ...instructions.slice(last).filter((instruction) => instruction.keyword === "ENV").map((instruction) => parseEnv(instruction.args)));
}

function parseEnv(args: string): Record<string, string> {
  return Object.fromEntries([...args.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1] ?? "", (m[2] ?? "").replace(/^"|"$/g, "")]));
}

export async function replayDockerfile(contextDir: string, instructions: Instruction[], into: string): Promise<ReplayedStage[]> {
  const stages: ReplayedStage[] = [];
  let stage: ReplayedStage | undefined;
  const hostPath = (target: ReplayedStage, imagePath: string) =>
    path.join(into, target.name, path.posix.isAbsolute(imagePath) ? imagePath : path.posix.join(target.workdir, imagePath));
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const [image = "", , name = `stage${stages.length}`] = instruction.args.split(/\s+/);
      stage = { name, image, workdir: "/", env: {}, user: undefined, skipped: [], instructions: [] };
      stages.push(stage);
      continue;
    }
    if (stage === undefined) throw new Error(`${instruction.keyword} before FROM`);
    const current: ReplayedStage = stage;
    current.instructions.push(instruction);
    switch (instruction.keyword) {
      case "WORKDIR":
        (current as { workdir: string }).workdir = instruction.args;
        await mkdir(hostPath(current, "."), { recursive: true });
        break;
      case "ENV":
        Object.assign(current.env, parseEnv(instruction.args));
        break;
      case "USER":
        (current as { user: string | undefined }).user = instruction.args;
        break;
      case "COPY": {
        const parts = instruction.args.split(/\s+/);
        const from = parts[0]?.startsWith("--from=") ? parts.shift()?.slice(7) : undefined;
        const destination = parts.pop() ?? ".";
        const source = from === undefined ? undefined : stages.find((s) => s.name === from);
        for (const item of parts) {
          const src = source === undefined ? path.join(contextDir, item) : hostPath(source, item);
          const target = destination.endsWith("/") ? path.join(hostPath(current, destination), path.basename(item)) : hostPath(current, destination);
          await cp(src, target, { recursive: true });
        }
        break;
      }
      case "RUN":
        if (/\/(var|etc|usr)\//.test(instruction.args) && /\b(mkdir|chown)\b/.test(instruction.args)) {
          current.skipped.push(instruction.args);
          break;
        }
        await run("bash", ["-c", instruction.args], {
          cwd: hostPath(current, "."),
          env: { ...process.env, ...current.env },
          maxBuffer: 64 * 1024 * 1024,
        });
        break;
      default:
        break;
    }
  }
  return stages;
}
