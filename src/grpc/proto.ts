import { readFileSync } from "node:fs";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import { packageRoot } from "../package-root.js";
import type { ProtoGrpcType as SessionServiceProto } from "../generated/proto/types/session_service.js";
import type { ProtoGrpcType as TokenServiceProto } from "../generated/proto/types/token_service.js";
import type { ProtoGrpcType as AuditServiceProto } from "../generated/proto/types/audit_service.js";
import type { ProtoGrpcType as ExternalAuthProto } from "../generated/proto/types/external_auth.js";

// Handlers are built from the .proto files; field names keep their proto
// spelling (user_id), the same as in every other language's client.
export const loaderOptions: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [path.join(packageRoot, "proto"), path.join(packageRoot, "third_party")],
};

export const packageDefinition = protoLoader.loadSync(
  [
    "sessionauthority/v1/session_service.proto",
    "sessionauthority/v1/token_service.proto",
    "sessionauthority/v1/audit_service.proto",
    "sessionauthority/v1/error_reason.proto",
    // Envoy's ext_authz API (vendored in third_party/envoy), served beside ours for the mesh edge.
    "envoy/service/auth/v3/external_auth.proto",
  ],
  loaderOptions,
);

type Services = SessionServiceProto & TokenServiceProto & AuditServiceProto & ExternalAuthProto;
export const services = grpc.loadPackageDefinition(packageDefinition) as unknown as Services;

// Reflection is served from the descriptor set `buf build` writes with every
// import included, file by file exactly as buf encoded them: descriptors that
// protobufjs regenerates lose file names and imports, and `buf curl` or
// `grpcurl` then cannot resolve the services.
// The reflection service reads only `fileDescriptorProtos` of each entry.
export const reflectionPackageDefinition = {
  "descriptor-set": {
    fileDescriptorProtos: splitFileDescriptorSet(readFileSync(new URL("../generated/proto/descriptor-set.binpb", import.meta.url))),
  },
} as unknown as protoLoader.PackageDefinition;

/** FileDescriptorSet is `repeated FileDescriptorProto file = 1`: cut out each file's bytes. */
function splitFileDescriptorSet(bytes: Uint8Array): Buffer[] {
  const reader = protobuf.Reader.create(bytes);
  const files: Buffer[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 2) files.push(Buffer.from(reader.bytes()));
    else reader.skipType(tag & 7);
  }
  return files;
}
