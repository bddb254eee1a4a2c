import { createHash, timingSafeEqual } from "node:crypto";
import type { PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import type { CallerKey, Policy, TrustedProxies } from "../../config.js";
import { callerName } from "../caller-name.js";
import { forwardedClientIdentity } from "../forwarded-client-cert.js";
import { errorStatus } from "../status.js";

/**
 * Set by the interceptor once the caller is authenticated; any value a client
 * sends under this name is dropped first, so handlers can trust it.
 */
export const VERIFIED_CALLER_HEADER = "x-session-authority-verified-caller";

/**
 * Set by the interceptor when the policy grants the call's "<method>:any_caller"
 * capability; dropped first when a client sends it, like the caller header.
 */
export const ANY_CALLER_HEADER = "x-session-authority-any-caller";

// Probes and tooling must work without credentials.
const publicServicePrefixes = ["/grpc.health.v1.Health/", "/grpc.reflection."];

export interface CallerAuthOptions {
  readonly keys: readonly CallerKey[];
  readonly policy: Policy | undefined;
  /** Sidecars whose `x-forwarded-client-cert` names the caller. */
  readonly trustedProxies: TrustedProxies;
  /** With no identity source configured, anonymous callers are let in (loopback only, checked at start). */
  readonly allowAnonymous: boolean;
}

/** What the transport knows of the other end of the connection. */
export interface Peer {
  /** Present only when TLS verified it against the client CA. */
  readonly certificate?: PeerCertificate | undefined;
  readonly address?: string | undefined;
}

type Decision =
  | { readonly caller: string }
  /** `caller` is set when the caller was identified but not allowed. */
  | { readonly code: grpc.status; readonly reason: string; readonly message: string; readonly caller?: string };

const FORWARDED_CERT_HEADER = "x-forwarded-client-cert";

export function authorizeCall(options: CallerAuthOptions, method: string, metadata: grpc.Metadata, peer: Peer = {}): Decision {
  if (publicServicePrefixes.some((prefix) => method.startsWith(prefix))) return { caller: "public" };
  const identified = identifyCaller(options, metadata, peer);
  if ("code" in identified) return identified;
  const caller = identified.caller;
  if (!allowedByPolicy(options.policy, caller, method)) {
    return { code: grpc.status.PERMISSION_DENIED, reason: "CALLER_NOT_ALLOWED", message: `caller "${caller}" may not call ${method.slice(1)}`, caller };
  }
  return { caller };
}

/**
 * In order of trust: the verified client certificate; the forwarded
 * certificate, only from a sidecar the operator marked trusted (by its own
 * certificate identity or its address); an API key; anonymous where allowed.
 */
function identifyCaller(options: CallerAuthOptions, metadata: grpc.Metadata, peer: Peer): Decision {
  const certificateCaller = peer.certificate === undefined ? undefined : certificateIdentity(peer.certificate);
  if (peer.certificate !== undefined && certificateCaller === undefined) {
    return { code: grpc.status.UNAUTHENTICATED, reason: "CALLER_UNAUTHENTICATED", message: "the client certificate names no identity (no spiffe:// URI SAN and no subject CN)" };
  }
  const forwarded = metadata.get(FORWARDED_CERT_HEADER)[0];
  if (typeof forwarded === "string" && isTrustedProxy(options.trustedProxies, certificateCaller, peer.address)) {
    const caller = forwardedClientIdentity(forwarded);
    if (caller === undefined) {
      return { code: grpc.status.UNAUTHENTICATED, reason: "CALLER_UNAUTHENTICATED", message: `the ${FORWARDED_CERT_HEADER} header names no identity (no spiffe:// URI and no subject CN)` };
    }
    return { caller };
  }
  if (certificateCaller !== undefined) return { caller: certificateCaller };
  const presented = presentedKey(metadata);
  const caller = presented !== undefined ? findCaller(options.keys, presented) : options.allowAnonymous && options.keys.length === 0 ? "anonymous" : undefined;
  if (caller === undefined) {
    return { code: grpc.status.UNAUTHENTICATED, reason: "CALLER_UNAUTHENTICATED", message: "present a client certificate or a valid API key (authorization: Bearer <key> or x-api-key)" };
  }
  return { caller };
}

function isTrustedProxy(proxies: TrustedProxies, certificateCaller: string | undefined, address: string | undefined): boolean {
  if (certificateCaller !== undefined) return proxies.identities.has(certificateCaller);
  if (address === undefined) return false;
  const plain = address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
  return proxies.addresses.check(plain, plain.includes(":") ? "ipv6" : "ipv4");
}

/** The first spiffe:// URI SAN, else the subject CN. */
export function certificateIdentity(certificate: PeerCertificate): string | undefined {
  // Node writes SANs as `URI:spiffe://…, DNS:…`, quoting a value that holds a comma;
  // a SPIFFE ID never does, so a quoted one is not taken.
  for (const entry of (certificate.subjectaltname ?? "").split(", ")) {
    if (entry.startsWith("URI:spiffe://")) return callerName(entry.slice(4), "uri");
  }
  const cn = certificate.subject?.CN as string | string[] | undefined;
  return callerName(Array.isArray(cn) ? cn[0] : cn, "cn");
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
 * Breach-scale or key-material operations, and the audit log: a policy
 * grants them only by a rule naming them exactly, never through "*" or "Service/*", so widening a
 * caller's wildcard cannot hand it the power to log everyone out.
 */
export const PRIVILEGED_METHODS: ReadonlySet<string> = new Set([
  "sessionauthority.v1.TokenService/RevokeAllTokens",
  "sessionauthority.v1.TokenService/RotateSigningKey",
  "sessionauthority.v1.TokenService/RevokeSigningKey",
  "sessionauthority.v1.SessionService/DeleteUserData",
  // Every user's ids, every caller's actions and addresses: for auditors named for it.
  "sessionauthority.v1.AuditService/ListAuditEvents",
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

/**
 * Whether the caller may reach sessions other callers created with this RPC
 * ("sessionauthority.v1.SessionService/GetSession:any_caller"). Granted only
 * by a rule naming it exactly, never by "*" or "Service/*", and never without
 * a policy file: a wildcard, or a second API key, must not let one caller read
 * or change another's sessions.
 */
export function mayReachAnyCaller(policy: Policy | undefined, caller: string, method: string): boolean {
  return policy?.get(caller)?.includes(`${method.slice(1)}:any_caller`) === true;
}

export function callerAuthInterceptor(options: CallerAuthOptions): grpc.ServerInterceptor {
  return (methodDescriptor, call) => {
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        metadata.remove(VERIFIED_CALLER_HEADER);
        metadata.remove(ANY_CALLER_HEADER);
        let decision: Decision;
        try {
          decision = authorizeCall(options, methodDescriptor.path, metadata, {
            certificate: call.getAuthContext().sslPeerCertificate,
            address: call.getConnectionInfo().remoteAddress,
          });
        } catch {
          // Whatever a peer presents must end in a status, never in an exception that takes the process down.
          decision = { code: grpc.status.UNAUTHENTICATED, reason: "CALLER_UNAUTHENTICATED", message: "the caller's credentials could not be read" };
        }
        if ("code" in decision) {
          call.sendStatus(errorStatus(decision.code, decision.reason, decision.message, decision.caller === undefined ? {} : { caller: decision.caller }));
          return;
        }
        metadata.set(VERIFIED_CALLER_HEADER, decision.caller);
        if (mayReachAnyCaller(options.policy, decision.caller, methodDescriptor.path)) metadata.set(ANY_CALLER_HEADER, "granted");
        next(metadata);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  };
}
