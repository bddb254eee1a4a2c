import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { AuthorizationClient } from "../../src/generated/proto/types/envoy/service/auth/v3/Authorization.js";
import type { CheckResponse__Output } from "../../src/generated/proto/types/envoy/service/auth/v3/CheckResponse.js";

// Envoy's side of the wire: a client built from Envoy's own protos (the
// vendored third_party/envoy, nothing of ours), as Envoy's ext_authz filter
// sends them.
const envoyProtos = protoLoader.loadSync("envoy/service/auth/v3/external_auth.proto", {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [path.resolve("third_party")],
});
interface EnvoyAuthPackage {
  envoy: { service: { auth: { v3: { Authorization: new (address: string, credentials: grpc.ChannelCredentials) => AuthorizationClient } } } };
}
const { Authorization } = (grpc.loadPackageDefinition(envoyProtos) as unknown as EnvoyAuthPackage).envoy.service.auth.v3;

export function connectEdge(port: number): AuthorizationClient {
  return new Authorization(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

export interface Checked {
  readonly host?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
}

/** A CheckRequest as Envoy sends it for an HTTP request. */
export function checkRequest({ host = "api.example.com", path: requestPath = "/v1/orders", headers = {} }: Checked) {
  return { attributes: { request: { http: { method: "GET", scheme: "https", host, path: requestPath, headers: { ":authority": host, ":path": requestPath, ...headers } } } } };
}

export function callCheck(client: AuthorizationClient, request: Checked, metadata = new grpc.Metadata()): Promise<CheckResponse__Output> {
  return new Promise((resolve, reject) => {
    client.Check(checkRequest(request), metadata, { deadline: Date.now() + 10_000 }, (error, response) => {
      if (error) reject(error);
      else if (response === undefined) reject(new Error("no response"));
      else resolve(response);
    });
  });
}
