import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { routeFor, type ClaimRequirements, type EdgeRoute } from "./edge-routes.js";
import { DomainError, type ErrorCode } from "./errors.js";
import { verifyAccessToken, type AccessTokenPayload } from "./verify-access-token.js";

/** Who the request acts for, for the upstream's headers. */
export interface EdgeIdentity {
  readonly sessionId: string;
  readonly userId: string;
  readonly orgId: string | undefined;
}

/**
 * RFC 6750's answers: 401 without an error when no bearer token came (§3.1),
 * 401 invalid_token when the token is not good here, 403 insufficient_scope
 * when it is good but lacks what the route requires.
 */
export type EdgeRefusal =
  | { readonly status: 401; readonly error: undefined; readonly reason: "TOKEN_MISSING"; readonly description: string }
  | { readonly status: 401; readonly error: "invalid_token"; readonly reason: string; readonly description: string }
  | { readonly status: 403; readonly error: "insufficient_scope"; readonly reason: string; readonly description: string };

export type EdgeDecision = { readonly allowed: true; readonly identity: EdgeIdentity | undefined } | ({ readonly allowed: false } & EdgeRefusal);

export interface EdgeRequest {
  readonly host: string;
  readonly path: string;
  /** The checked request's `authorization` header, if it had one. */
  readonly authorization: string | undefined;
}

// The refusals verifyAccessToken gives for a token (each one's reason is named
// to the client); anything else (the database gone, a deadline) stays an error
// so Envoy, failing closed, refuses the request without blaming the token.
const TOKEN_REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "TOKEN_UNKNOWN",
  "TOKEN_EXPIRED",
  "TOKEN_REVOKED",
  "TOKEN_REUSED",
  "VERSION_STALE",
  "TOKEN_INVALID",
  "TOKEN_SIGNATURE_INVALID",
  "TOKEN_ALGORITHM_REFUSED",
  "TOKEN_KEY_UNKNOWN",
  "TOKEN_ISSUED_IN_FUTURE",
  "TOKEN_CLAIM_MISMATCH",
  "TOKEN_KEY_REVOKED",
]);

// RFC 6750 §2.1: "Bearer" then one token68; the scheme is case-insensitive (RFC 9110 §11.1).
const BEARER = /^bearer(?:\s+(.*))?$/is;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

type BearerToken = { readonly token: string } | { readonly missing: true } | { readonly malformed: true };

function bearerTokenOf(authorization: string | undefined): BearerToken {
  const value = authorization?.trim() ?? "";
  const match = BEARER.exec(value);
  // No header, or another scheme (Basic…): no bearer credentials at all.
  if (match === null) return { missing: true };
  const token = match[1]?.trim() ?? "";
  return TOKEN68.test(token) ? { token } : { malformed: true };
}

const listed = (values: readonly string[]) => values.join(" ");

/** The first requirement the token fails, described without its claims' values. */
function unmetRequirement(require: ClaimRequirements, payload: AccessTokenPayload): EdgeRefusal | undefined {
  const org = typeof payload["org"] === "string" ? payload["org"] : undefined;
  if (require.orgIds !== undefined && (org === undefined || !require.orgIds.includes(org))) {
    // Another tenant's token is not a credential for this resource at all, as a wrong audience is not.
    return { status: 401, error: "invalid_token", reason: "ORG_NOT_ALLOWED", description: "the access token is for another organisation than this route's" };
  }
  const acr = typeof payload["acr"] === "string" ? payload["acr"] : undefined;
  if (require.acr !== undefined && (acr === undefined || !require.acr.includes(acr))) {
    return { status: 403, error: "insufficient_scope", reason: "ACR_REQUIRED", description: `this route requires acr ${listed(require.acr)}` };
  }
  const amr = Array.isArray(payload["amr"]) ? payload["amr"].filter((method): method is string => typeof method === "string") : [];
  const missing = require.amr?.filter((method) => !amr.includes(method)) ?? [];
  if (missing.length > 0) {
    return { status: 403, error: "insufficient_scope", reason: "AMR_REQUIRED", description: `this route requires amr ${listed(missing)}` };
  }
  return undefined;
}

function identityOf(payload: AccessTokenPayload, sessionId: string): EdgeIdentity {
  return { sessionId, userId: payload.sub ?? "", orgId: typeof payload["org"] === "string" ? payload["org"] : undefined };
}

/**
 * Envoy's question "may this HTTP request pass?": the route decides whether a
 * token is needed, then the token is verified exactly as VerifyAccessToken
 * verifies it (same caches, same revocation feed, same reasons, the same
 * caller's organisation scope), then the route's claims are checked.
 */
export async function authorizeEdgeRequest(deps: Dependencies, caller: Caller, routes: readonly EdgeRoute[], request: EdgeRequest): Promise<EdgeDecision> {
  const route = routeFor(routes, request.host, request.path);
  if (route.public) return { allowed: true, identity: undefined };
  const bearer = bearerTokenOf(request.authorization);
  if ("missing" in bearer) return { allowed: false, status: 401, error: undefined, reason: "TOKEN_MISSING", description: "a bearer access token is required" };
  if ("malformed" in bearer) {
    return { allowed: false, status: 401, error: "invalid_token", reason: "TOKEN_INVALID", description: "the authorization header does not hold one bearer token" };
  }
  let verified: Awaited<ReturnType<typeof verifyAccessToken>>;
  try {
    verified = await verifyAccessToken(deps, caller, bearer.token);
  } catch (error) {
    if (error instanceof DomainError && TOKEN_REFUSALS.has(error.code)) {
      return { allowed: false, status: 401, error: "invalid_token", reason: error.code, description: error.message };
    }
    throw error;
  }
  const unmet = unmetRequirement(route.require, verified.payload);
  if (unmet !== undefined) return { allowed: false, ...unmet };
  return { allowed: true, identity: identityOf(verified.payload, verified.sessionId) };
}
