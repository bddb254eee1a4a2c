import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { ProtoGrpcType as SessionServiceProto } from "../generated/proto/types/session_service.js";
import type { ProtoGrpcType as TokenServiceProto } from "../generated/proto/types/token_service.js";

// Everything is loaded from one descriptor set built by `buf build` with all
// imports included: the same bytes serve the handlers and server reflection (which cannot follow imports from per-file descriptors).

export const descriptorSetBytes = readFileSync(new URL("../generated/proto/descriptor-set.binpb", import.meta.url));

export const loaderOptions: protoLoader.Options = { longs: String, enums: String, defaults: true, oneofs: true };

export const packageDefinition = protoLoader.loadFileDescriptorSetFromBuffer(descriptorSetBytes, loaderOptions);

type Services = SessionServiceProto & TokenServiceProto;
export const services = grpc.loadPackageDefinition(packageDefinition) as unknown as Services;
