// Generates the clients in clients/ (buf.gen.yaml: TypeScript, Python, Go)
// with local plugins only. The Debian ones are checked
// first so a missing one is named with the package that provides it, rather
// than as buf's "plugin not found".
import { execFileSync, spawnSync } from "node:child_process";

const DEBIAN_PLUGINS = {
  protoc: "protobuf-compiler",
  grpc_python_plugin: "protobuf-compiler-grpc",
  "protoc-gen-go": "protoc-gen-go",
  "protoc-gen-go-grpc": "protoc-gen-go-grpc",
};

const missing = Object.entries(DEBIAN_PLUGINS).filter(([command]) => spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status !== 0);
if (missing.length > 0) {
  console.error(`generate:clients needs ${missing.map(([command]) => command).join(", ")}: apt-get install ${missing.map(([, pkg]) => pkg).join(" ")}`);
  process.exit(1);
}

execFileSync("node_modules/.bin/buf", ["generate"], { stdio: "inherit" });
