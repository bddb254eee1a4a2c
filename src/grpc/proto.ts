import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { ProtoGrpcType as SessionServiceProto } from "../generated/proto/types/session_service.js";
import type { ProtoGrpcType as TokenServiceProto } from "../generated/proto/types/token_service.js";

// Handlers are built from the .proto files; field names keep their proto
// spelling (user_id), the same as in every other language's client.
export const loaderOptions: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [fileURLToPath(new URL("../../proto/", import.meta.url)), fileURLToPath(new URL("../../third_party/", import.meta.url))],
};

export const packageDefinition = protoLoader.loadSync(
  ["sessionauthority/v1/session_service.proto", "sessionauthority/v1/token_service.proto", "sessionauthority/v1/error_reason.proto"],
  loaderOptions,
);

type Services = SessionServiceProto & TokenServiceProto;
export const services = grpc.loadPackageDefinition(packageDefinition) as unknown as Services;

// Reflection is served from the descriptor set `buf build` writes with every
// import included: built from per-file descriptors it cannot resolve imports
// and `buf curl`/`grpcurl` fail. (That path cannot serve the handlers: it
// loses map fields such as google.protobuf.Struct's.)
export const reflectionPackageDefinition = protoLoader.loadFileDescriptorSetFromBuffer(
  readFileSync(new URL("../generated/proto/descriptor-set.binpb", import.meta.url)),
  loaderOptions,
);
