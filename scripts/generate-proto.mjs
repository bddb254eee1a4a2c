// Generates what the server needs from proto/: a descriptor set with every
// import included (grpc-js reflection cannot resolve imports from proto-loader's
// per-file descriptors, so `buf curl` would fail) and TypeScript types for the
// handlers. Output goes to src/generated/proto, never edited by hand.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";

const out = "src/generated/proto";
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

execFileSync("node_modules/.bin/buf", ["build", "-o", `${out}/descriptor-set.binpb`], { stdio: "inherit" });
execFileSync(
  "node_modules/.bin/proto-loader-gen-types",
  [
    "--keepCase",
    "--longs=String",
    "--enums=String",
    "--defaults",
    "--oneofs",
    "--grpcLib=@grpc/grpc-js",
    "--outDir", `${out}/types`,
    "--includeDirs", "proto", "third_party",
    "--importFileExtension=.js",
    "sessionauthority/v1/session_service.proto",
    "sessionauthority/v1/token_service.proto",
    "sessionauthority/v1/audit_service.proto",
    "sessionauthority/v1/error_reason.proto",
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
    "envoy/service/auth/v3/external_auth.proto",
  ],
  { stdio: "inherit" },
);

// The client package (clients/ts) loads the contract at run time (the
// embedded verifier) and applies the shipped service config (the generated
// clients); it carries its own copies so it works outside this repository.
const clientProto = "clients/ts/proto";
rmSync(clientProto, { recursive: true, force: true });
cpSync("proto", clientProto, { recursive: true });
// Only Google's: Envoy's ext_authz protos serve the server's Check alone.
cpSync("third_party/google", path.join(clientProto, "google"), { recursive: true });
cpSync("clients/service-config.json", "clients/ts/service-config.json");
