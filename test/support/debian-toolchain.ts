import { spawnSync } from "node:child_process";

// Python and Go toolchains for the e2e interop tests come from Debian:
// installed with apt when missing, and those tests skipped, saying so, when
// they cannot be.

export interface Toolchain {
  readonly name: string;
  readonly packages: readonly string[];
  /** Whether the packages are there, so a failure after this point is a real one. */
  readonly ready: () => boolean;
}

export const PYTHON = "/usr/bin/python3";
export const has = (command: string) => spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
export const installed = (packages: readonly string[]) => spawnSync("dpkg", ["-s", ...packages], { stdio: "ignore" }).status === 0;

/** Why a toolchain is missing and cannot be installed, or undefined once it is there. */
export function install(toolchain: Toolchain): string | undefined {
  if (toolchain.ready()) return undefined;
  if (!has("apt-get")) return "apt-get is not available";
  if (process.getuid?.() !== 0) return "installing Debian packages needs root";
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = spawnSync("apt-get", ["update"], { env, encoding: "utf8" });
  const result = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...toolchain.packages], { env, encoding: "utf8" });
  if (result.status !== 0) return `apt-get install ${toolchain.packages.join(" ")} failed: ${(update.stderr + result.stderr).slice(-400)}`;
  return toolchain.ready() ? undefined : `the ${toolchain.name} packages installed but are not usable`;
}
