import { decodeJwt, decodeProtectedHeader, errors, importJWK, jwtVerify, type CryptoKey, type JWK, type JWTPayload } from "jose";
import type { RevocationVerdict } from "../../clients/ts/src/revocation-state.js";
import { timeVerdict, type TimeVerdict } from "../../clients/ts/src/verified-tokens.js";
import { DatabaseUnavailableError } from "../store/errors.js";
import type { VerificationState } from "../store/verification-repository.js";
import type { OrgScopes } from "../config.js";
import type { Caller } from "./context.js";
import type { Dependencies } from "./dependencies.js";
import { DomainError, invalidArgument } from "./errors.js";

export type AccessTokenPayload = JWTPayload & Record<string, unknown>;

export interface VerifiedAccessToken {
  readonly payload: AccessTokenPayload;
  readonly sessionId: string;
}

const SIGNING_ALGORITHMS: readonly string[] = ["EdDSA", "ES256", "RS256"];

// Importing a public key costs more than verifying with it; keep each one.
const imported = new WeakMap<JWK, Promise<CryptoKey | Uint8Array>>();
function importedKey(jwk: JWK, alg: string): Promise<CryptoKey | Uint8Array> {
  let key = imported.get(jwk);
  if (key === undefined) {
    key = importJWK(jwk, alg);
    imported.set(jwk, key);
  }
  return key;
}

const timeRefusals: Record<NonNullable<TimeVerdict>, () => DomainError> = {
  expired: () => new DomainError("TOKEN_EXPIRED", "the access token has expired"),
  not_yet_valid: () => new DomainError("TOKEN_CLAIM_MISMATCH", 'the access token\'s "nbf" claim is not accepted here'),
  issued_in_future: () => new DomainError("TOKEN_ISSUED_IN_FUTURE", "the access token claims to be issued in the future"),
};

/** A published, unrevoked key for `kid`, else the refusal. */
async function keyFor(deps: Dependencies, kid: string, alg: string | undefined): Promise<JWK> {
  const key = kid.length === 0 ? undefined : await deps.keyRing.verificationKey(kid);
  if (key === "revoked") throw new DomainError("TOKEN_KEY_REVOKED", "the access token was signed by a revoked key");
  if (key === undefined || key.alg !== alg) {
    throw new DomainError("TOKEN_KEY_UNKNOWN", "the access token was not signed by a published key");
  }
  return key;
}

/**
 * The JWT checks, each failure with its own reason so a caller (or an
 * operator reading logs) can tell a forged token from an old one: header and
 * algorithm, key, signature, expiry, issuer and audience, issue time. A token
 * seen before skips the header, signature, issuer and audience (they cannot
 * change); its key and times are checked again.
 */
async function verifySignedClaims(deps: Dependencies, accessToken: string): Promise<{ kid: string; payload: AccessTokenPayload }> {
  const leewaySeconds = Math.floor(deps.settings.accessTokenLeewayMs / 1000);
  const now = deps.clock.now();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const known = deps.verifiedTokens.lookup(accessToken);
  if (known !== undefined) {
    await keyFor(deps, known.kid, known.alg);
    const verdict = timeVerdict(known, nowSeconds, leewaySeconds);
    if (verdict !== undefined) throw timeRefusals[verdict]();
    return { kid: known.kid, payload: decodeJwt(accessToken) as AccessTokenPayload };
  }
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(accessToken);
  } catch {
    throw new DomainError("TOKEN_INVALID", "the access token is not a JWT");
  }
  if (header.alg === undefined || !SIGNING_ALGORITHMS.includes(header.alg)) {
    throw new DomainError("TOKEN_ALGORITHM_REFUSED", "the access token's algorithm is not accepted");
  }
  const kid = typeof header.kid === "string" && header.kid.length <= 128 ? header.kid : "";
  const key = await keyFor(deps, kid, header.alg);
  let payload: AccessTokenPayload;
  try {
    const verified = await jwtVerify(accessToken, await importedKey(key, header.alg), {
      issuer: deps.tokens.issuer,
      audience: deps.tokens.audience,
      algorithms: [header.alg],
      clockTolerance: leewaySeconds,
      currentDate: now,
    });
    payload = verified.payload as AccessTokenPayload;
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw timeRefusals.expired();
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      throw new DomainError("TOKEN_SIGNATURE_INVALID", "the access token's signature does not verify");
    }
    if (error instanceof errors.JWTClaimValidationFailed) {
      throw new DomainError("TOKEN_CLAIM_MISMATCH", `the access token's "${error.claim}" claim is not accepted here`);
    }
    throw new DomainError("TOKEN_INVALID", "the access token is not a well-formed JWT");
  }
  if (typeof payload.iat !== "number" || payload.iat > nowSeconds + leewaySeconds) throw timeRefusals.issued_in_future();
  // Every token we issue has `exp`; one without it is not kept.
  if (typeof payload.exp === "number") {
    deps.verifiedTokens.remember(accessToken, {
      kid,
      alg: header.alg,
      expiresAt: payload.exp,
      notBefore: typeof payload.nbf === "number" ? payload.nbf : undefined,
      issuedAt: payload.iat,
    });
  }
  return { kid, payload };
}

const revokedMessages = {
  TOKEN_KEY_REVOKED: "the access token was signed by a revoked key",
  VERSION_STALE: "the access token was issued before its user's or every token was revoked",
  TOKEN_REVOKED: "the access token's session was revoked",
} as const;

const revoked = (reason: keyof typeof revokedMessages) => new DomainError(reason, revokedMessages[reason]);

function answer(verdict: RevocationVerdict, payload: VerifiedAccessToken["payload"], sessionId: string): VerifiedAccessToken {
  if (verdict !== undefined) throw revoked(verdict);
  return { payload, sessionId };
}

/**
 * A caller limited to some organisations verifies only tokens that carry one
 * of them: any other — another organisation's, or one with no organisation —
 * is unknown to it, so it never receives another organisation's claims.
 * Judged by the claim the token carries (what the answer would hand over),
 * and before any other check, so not even "expired" or "revoked" is revealed.
 * A forged claim gains nothing: every check still follows.
 */
function assertTokenOrgInScope(scopes: OrgScopes, caller: Caller, accessToken: string): void {
  const scope = scopes.get(caller.id);
  if (scope === undefined) return;
  let org: unknown;
  try {
    org = decodeJwt(accessToken)["org"];
  } catch {
    // Not a JWT: verifySignedClaims refuses it (TOKEN_INVALID), revealing nothing about any session.
    return;
  }
  if (typeof org === "string" && scope.includes(org)) return;
  throw new DomainError("TOKEN_UNKNOWN", "the access token is not known", {
    cause: `caller "${caller.id}" is limited to some organisations; the access token carries another or none`,
  });
}

/**
 * Signature, expiry, issuer and audience first, then revocation: the session
 * still live, both versions current, the key not revoked. Revocation comes
 * from the event-fed cache when it is current, else from one indexed read.
 */
export async function verifyAccessToken(deps: Dependencies, caller: Caller, accessToken: string): Promise<VerifiedAccessToken> {
  if (accessToken.length === 0) throw invalidArgument("access_token", "is required");
  // Above anything we issue (4 KiB of extra claims plus bounded standard claims, base64url-encoded).
  if (accessToken.length > 16_384) throw new DomainError("TOKEN_INVALID", "the access token is not one of ours");
  assertTokenOrgInScope(deps.orgScopes, caller, accessToken);
  const { kid, payload } = await verifySignedClaims(deps, accessToken);
  const sessionId = typeof payload["sid"] === "string" ? payload["sid"] : "";
  const tokenVersion = BigInt(typeof payload["tv"] === "number" ? payload["tv"] : -1);
  const globalVersion = BigInt(typeof payload["gv"] === "number" ? payload["gv"] : -1);
  // Tokens never outlive their session, so a valid signature and `exp` leave
  // only revocation to check: from the cache when it is current.
  const facts = { sessionId, userId: payload.sub ?? "", tokenVersion, globalVersion, keyId: kid };
  const cached = deps.verificationCache.check(facts);
  if (cached !== "unknown") return answer(cached, payload, sessionId);
  // The database is known to be gone: the last view answers at once, within its limit.
  const staleUsable = () => deps.verificationCache.usableStale(deps.verifyStaleLimitMs);
  if (!deps.databaseWatch.reachable && staleUsable()) return answer(deps.verificationCache.checkStale(facts), payload, sessionId);
  let state: VerificationState | null;
  try {
    state = /^[0-9a-f-]{36}$/.test(sessionId) ? await deps.store.read(({ verification }) => verification.stateOf(sessionId, kid)) : null;
  } catch (error) {
    if (!(error instanceof DatabaseUnavailableError) || !staleUsable()) throw error;
    void deps.databaseWatch.check();
    return answer(deps.verificationCache.checkStale(facts), payload, sessionId);
  }
  if (state === null) throw new DomainError("TOKEN_REVOKED", "the access token's session no longer exists");
  if (state.keyRevokedAt !== null) throw revoked("TOKEN_KEY_REVOKED");
  // A token that passes both floors was issued after any bump, so the
  // session's own version stamps (which are never older) pass them too.
  if (tokenVersion < state.userTokenVersion || globalVersion < state.globalVersion) throw revoked("VERSION_STALE");
  if (state.sessionRevokedAt !== null) throw revoked("TOKEN_REVOKED");
  if (state.sessionExpiresAt <= deps.clock.now()) throw new DomainError("TOKEN_EXPIRED", "the access token's session has expired");
  return { payload, sessionId };
}
