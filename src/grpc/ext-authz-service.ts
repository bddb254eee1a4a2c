import * as grpc from "@grpc/grpc-js";
import type { Config } from "../config.js";
import { authorizeEdgeRequest, type EdgeIdentity, type EdgeRefusal } from "../domain/authorize-edge-request.js";
import type { Dependencies } from "../domain/dependencies.js";
import type { AuthorizationHandlers } from "../generated/proto/types/envoy/service/auth/v3/Authorization.js";
import type { CheckRequest__Output } from "../generated/proto/types/envoy/service/auth/v3/CheckRequest.js";
import type { CheckResponse } from "../generated/proto/types/envoy/service/auth/v3/CheckResponse.js";
import type { HeaderValueOption } from "../generated/proto/types/envoy/config/core/v3/HeaderValueOption.js";
import type { Logger } from "../logger.js";
import { unaryFor } from "./unary.js";

export type ExtAuthzSettings = Config["extAuthz"];

/** Envoy lower-cases header names in `headers`; `header_map` (encode_raw_headers) may carry raw bytes. */
function authorizationOf(request: CheckRequest__Output): string | undefined {
  const http = request.attributes?.request?.http;
  if (http === null || http === undefined) return undefined;
  for (const [name, value] of Object.entries(http.headers)) {
    if (name.toLowerCase() === "authorization") return value;
  }
  const entry = http.header_map?.headers.find((header) => header.key.toLowerCase() === "authorization");
  if (entry === undefined) return undefined;
  return entry.value.length > 0 ? entry.value : Buffer.from(entry.raw_value).toString("latin1");
}

// RFC 6750 §3: quoted-string values hold no '"' or '\' (error_description: %x20-21 / %x23-5B / %x5D-7E).
const quotable = (text: string) => text.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, "?");

export function wwwAuthenticate(realm: string, refusal: EdgeRefusal): string {
  if (refusal.error === undefined) return `Bearer realm="${realm}"`;
  return `Bearer realm="${realm}", error="${refusal.error}", error_description="${quotable(`${refusal.reason}: ${refusal.description}`)}"`;
}

// Overwrite, never append: the caller's own copy of a header is replaced, not joined to ours.
const header = (key: string, value: string): HeaderValueOption => ({ header: { key, value }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" });

/**
 * Envoy sets `headers` and then removes `headers_to_remove` (ext_authz.cc),
 * so a header we set must not be listed for removal: the ones set overwrite
 * whatever the client sent, and every other identity header is removed, so a
 * client can never hand the upstream an identity of its own making.
 */
function allowed(settings: ExtAuthzSettings, identity: EdgeIdentity | undefined): CheckResponse {
  const names = settings.headers;
  const set: HeaderValueOption[] = [];
  if (identity !== undefined) {
    set.push(header(names.sessionId, identity.sessionId), header(names.userId, identity.userId));
    if (identity.orgId !== undefined) set.push(header(names.orgId, identity.orgId));
  }
  const setNames = new Set(set.map((option) => option.header?.key));
  return {
    status: { code: grpc.status.OK, message: "" },
    ok_response: { headers: set, headers_to_remove: [names.sessionId, names.userId, names.orgId].filter((name) => !setNames.has(name)) },
  };
}

function denied(settings: ExtAuthzSettings, refusal: EdgeRefusal): CheckResponse {
  const body = JSON.stringify(refusal.error === undefined ? { error: "unauthorized", reason: refusal.reason } : { error: refusal.error, reason: refusal.reason, error_description: refusal.description });
  return {
    status: { code: refusal.status === 401 ? grpc.status.UNAUTHENTICATED : grpc.status.PERMISSION_DENIED, message: refusal.reason },
    denied_response: {
      status: { code: refusal.status === 401 ? "Unauthorized" : "Forbidden" },
      headers: [header("www-authenticate", wwwAuthenticate(settings.realm, refusal)), header("content-type", "application/json"), header("cache-control", "no-store")],
      body,
    },
  };
}

/**
 * envoy.service.auth.v3.Authorization/Check: Envoy asks whether an HTTP
 * request may reach its upstream. A refusal is an answer (DENIED with 401 or
 * 403), not a gRPC error; only a failure to decide (the database out of reach
 * with no usable cache) is one, so Envoy with failure_mode_allow: false
 * refuses the request.
 */
export function extAuthzHandlers(deps: Dependencies, logger: Logger, settings: ExtAuthzSettings): AuthorizationHandlers {
  const unary = unaryFor(deps, logger);
  return {
    Check: unary(async (request: CheckRequest__Output, { caller, deps }) => {
      const http = request.attributes?.request?.http;
      const decision = await authorizeEdgeRequest(deps, caller, settings.routes, {
        host: http?.host ?? "",
        path: http?.path ?? "",
        authorization: authorizationOf(request),
      });
      return decision.allowed ? allowed(settings, decision.identity) : denied(settings, decision);
    }),
  };
}
