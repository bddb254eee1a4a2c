import { createHash, timingSafeEqual } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { CallerKey, Policy } from "../../config.js";
import { errorStatus } from "../status.js";

/**
 * Set by the interceptor once the caller is authenticated; any value a client
 * sends under this name is dropped first, so handlers can trust it.
 */
export const VERIFIED_CALLER_HEADER = "x-session-authority-verified-caller";

// Probes and tooling must work without credentials.
const publicServicePrefixes = ["/grpc.health.v1.Health/", "/grpc.reflection."];

export interface CallerAuthOptions {
  readonly keys: readonly CallerKey[];
  readonly policy: Policy | undefined;
  /** With no keys configured, anonymous callers are let in (loopback only, checked at start). */
  readonly allowAnonymous: boolean;
}

type Decision = { readonly caller: string } | { readonly code: grpc.status; readonly reason: string; readonly message: string };

export function authorizeCall(options: CallerAuthOptions, method: string, metadata: grpc.Metadata): Decision {
  if (publicServicePrefixes.some((prefix) => method.startsWith(prefix))) return { caller: "public" };
  const presented = presentedKey(metadata);
  let caller: string | undefined;
  if (presented !== undefined) {
    caller = findCaller(options.keys, presented);
  } else if (options.keys.length === 0 && options.allowAnonymous) {
    caller = "anonymous";
  }
  if (caller === undefined) {
    return { code: grpc.status.UNAUTHENTICATED, reason: "CALLER_UNAUTHENTICATED", message: "present a valid API key (authorization: Bearer <key> or x-api-key)" };
  }
  if (!allowedByPolicy(options.policy, caller, method)) {
    return { code: grpc.status.PERMISSION_DENIED, reason: "CALLER_NOT_ALLOWED", message: `caller "${caller}" may not call ${method.slice(1)}` };
  }
  return { caller };
}

function presentedKey(metadata: grpc.Metadata): string | undefined {
  const apiKey = metadata.get("x-api-key")[0];
  if (typeof apiKey === "string" && apiKey.length > 0) return apiKey;
  const authorization = metadata.get("authorization")[0];
  if (typeof authorization === "string") {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (match?.[1] !== undefined) return match[1];
  }
  return undefined;
}

/** Compares against every configured hash in constant time, so timing reveals nothing. */
function findCaller(keys: readonly CallerKey[], presented: string): string | undefined {
  const digest = createHash("sha256").update(presented).digest();
  let found: string | undefined;
  for (const key of keys) {
    if (timingSafeEqual(digest, key.sha256) && found === undefined) found = key.caller;
  }
  return found;
}

/**
 * Breach-scale or key-material operations: a policy grants them only by a
 * rule naming them exactly, never through "*" or "Service/*", so widening a
 * caller's wildcard cannot hand it the power to log everyone out.
 */
export const PRIVILEGED_METHODS: ReadonlySet<string> = new Set([
  "sessionauthority.v1.TokenService/RevokeAllTokens",
  "sessionauthority.v1.TokenService/RotateSigningKey",
  "sessionauthority.v1.TokenService/RevokeSigningKey",
  "sessionauthority.v1.SessionService/DeleteUserData",
]);

/** `method` is a path ("/pkg.Service/Method") or a capability ("/pkg.Service/Method:switch_org"). */
export function allowedByPolicy(policy: Policy | undefined, caller: string, method: string): boolean {
  if (policy === undefined) return true;
  const rules = policy.get(caller) ?? [];
  const path = method.slice(1);
  if (PRIVILEGED_METHODS.has(path)) return rules.includes(path);
  const service = path.slice(0, path.indexOf("/"));
  return rules.some((rule) => rule === "*" || rule === path || rule === `${service}/*`);
}

export function callerAuthInterceptor(options: CallerAuthOptions): grpc.ServerInterceptor {
  return (methodDescriptor, call) => {
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        metadata.remove(VERIFIED_CALLER_HEADER);
        const decision = authorizeCall(options, methodDescriptor.path, metadata);
        if ("code" in decision) {
          call.sendStatus(errorStatus(decision.code, decision.reason, decision.message));
          return;
        }
        metadata.set(VERIFIED_CALLER_HEADER, decision.caller);
        next(metadata);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  };
}
