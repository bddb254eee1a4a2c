import type { IncomingHttpHeaders } from "node:http";
import type { JWTPayload } from "jose";
import type { Verification } from "./verifier.js";

/** The verified access token's claims, as middleware leaves them on `req.auth`. */
export type SessionClaims = JWTPayload & Record<string, unknown>;

/** What the middleware needs of a SessionVerifier (so a test or a wrapper can stand in). */
export interface TokenVerifier {
  verify(token: string): Promise<Verification>;
}

export interface BearerOptions {
  /** The `realm` of the `WWW-Authenticate` challenge (RFC 6750 §3). Default "session-authority". */
  readonly realm?: string;
}

/** The answer to one request: its claims, or the response that refuses it. */
export type BearerOutcome =
  | { readonly ok: true; readonly claims: SessionClaims }
  | { readonly ok: false; readonly status: 400 | 401 | 503; readonly headers: Readonly<Record<string, string>>; readonly body: string };

const json = (value: object) => JSON.stringify(value);

// RFC 6750 §2.1: b64token after the scheme, which is case-insensitive.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const SCHEME = /^Bearer(?: |$)/i;

// Quoted-string values of the challenge may hold neither `"` nor `\`.
const quoted = (text: string) => text.replace(/["\\]/g, "");

/**
 * Verifies the request's `Authorization: Bearer …` with the embedded
 * verifier. No token (or another scheme): 401 with a bare challenge, as RFC
 * 6750 §3.1 asks of a request that carried no credentials. A refused token:
 * 401 naming the verifier's reason in `error_description`. The verifier
 * unable to decide (stale and the server out of reach): 503, since saying
 * "invalid" would log the user out for an outage and saying "valid" would
 * let a revoked token through.
 */
export async function authenticateBearer(verifier: TokenVerifier, authorization: string | undefined, options: BearerOptions = {}): Promise<BearerOutcome> {
  const realm = `realm="${quoted(options.realm ?? "session-authority")}"`;
  if (authorization === undefined || !SCHEME.test(authorization)) {
    return { ok: false, status: 401, headers: { "www-authenticate": `Bearer ${realm}`, "content-type": "application/json" }, body: json({ error: "unauthorized" }) };
  }
  const token = BEARER.exec(authorization)?.[1];
  if (token === undefined) {
    const challenge = `Bearer ${realm}, error="invalid_request", error_description="malformed Authorization header"`;
    return { ok: false, status: 400, headers: { "www-authenticate": challenge, "content-type": "application/json" }, body: json({ error: "invalid_request" }) };
  }
  let verification: Verification;
  try {
    verification = await verifier.verify(token);
  } catch {
    // The cause (a gRPC status from an unreachable server) says nothing a caller can act on.
    return { ok: false, status: 503, headers: { "retry-after": "1", "content-type": "application/json" }, body: json({ error: "temporarily_unavailable" }) };
  }
  if (verification.valid) return { ok: true, claims: verification.claims };
  const challenge = `Bearer ${realm}, error="invalid_token", error_description="${quoted(verification.reason)}"`;
  return {
    ok: false,
    status: 401,
    headers: { "www-authenticate": challenge, "content-type": "application/json" },
    body: json({ error: "invalid_token", error_description: verification.reason }),
  };
}

const headerOf = (headers: IncomingHttpHeaders) => headers.authorization;

/** The parts of a Node request the middleware reads and writes; Express's, Connect's and node:http's all fit. */
export interface BearerRequest {
  readonly headers: IncomingHttpHeaders;
  auth?: SessionClaims;
}

/** The parts of a Node response the middleware writes on refusal. */
export interface BearerResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

/**
 * Express / Connect middleware, `(req, res, next)`: on success the claims are
 * on `req.auth` and `next()` runs; otherwise it answers 401, 400 or 503
 * itself (see authenticateBearer) and `next` is not called.
 */
export function bearerMiddleware(verifier: TokenVerifier, options: BearerOptions = {}) {
  return (req: BearerRequest, res: BearerResponse, next: (error?: unknown) => void): void => {
    authenticateBearer(verifier, headerOf(req.headers), options).then(
      (outcome) => {
        if (outcome.ok) {
          req.auth = outcome.claims;
          next();
          return;
        }
        res.statusCode = outcome.status;
        for (const [name, value] of Object.entries(outcome.headers)) res.setHeader(name, value);
        res.end(outcome.body);
      },
      // authenticateBearer does not reject; anything else is the framework's to report.
      (error: unknown) => next(error),
    );
  };
}

/** The parts of a Fastify request and reply the hook uses. */
export interface FastifyBearerRequest {
  readonly headers: IncomingHttpHeaders;
  auth?: SessionClaims;
}
export interface FastifyBearerReply {
  code(statusCode: number): unknown;
  header(name: string, value: string): unknown;
  send(payload: string): unknown;
}

/**
 * A Fastify `onRequest` hook: `app.addHook("onRequest", fastifyBearerHook(verifier))`
 * (with `app.decorateRequest("auth", undefined)` first, as Fastify wants
 * request properties declared). On success the claims are on `request.auth`;
 * otherwise the reply is sent here and the route handler never runs.
 */
export function fastifyBearerHook(verifier: TokenVerifier, options: BearerOptions = {}) {
  return async (request: FastifyBearerRequest, reply: FastifyBearerReply): Promise<unknown> => {
    const outcome = await authenticateBearer(verifier, headerOf(request.headers), options);
    if (outcome.ok) {
      request.auth = outcome.claims;
      return undefined;
    }
    reply.code(outcome.status);
    for (const [name, value] of Object.entries(outcome.headers)) reply.header(name, value);
    // Fastify: an async hook that answered must return the reply.
    return reply.send(outcome.body);
  };
}
