import { SignJWT } from "jose";
import type { SigningKey } from "./signing-key.js";

/**
 * Claim names the server sets itself; callers may not supply them as extras.
 * `client_id` is RFC 9068's: a resource server trusts it to name the caller
 * that created the session, so no caller may write another's name there.
 */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "tv", "gv", "org", "cnf", "azp", "amr", "acr", "auth_time", "client_id",
]);

export interface AccessTokenClaims {
  readonly issuer: string;
  readonly audience: string;
  readonly userId: string;
  readonly sessionId: string;
  /** RFC 9068 `client_id`: the caller that created the session. */
  readonly clientId: string;
  readonly jti: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly tokenVersion: bigint;
  readonly globalVersion: bigint;
  readonly activeOrgId: string | null;
  readonly amr: readonly string[];
  readonly acr: string | null;
  readonly authTime: Date;
  readonly extraClaims: Readonly<Record<string, unknown>>;
}

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

export async function signAccessToken(key: SigningKey, claims: AccessTokenClaims): Promise<string> {
  const payload: Record<string, unknown> = {
    ...claims.extraClaims,
    sid: claims.sessionId,
    client_id: claims.clientId,
    tv: Number(claims.tokenVersion),
    gv: Number(claims.globalVersion),
    auth_time: seconds(claims.authTime),
  };
  if (claims.activeOrgId !== null) payload["org"] = claims.activeOrgId;
  if (claims.amr.length > 0) payload["amr"] = [...claims.amr];
  if (claims.acr !== null) payload["acr"] = claims.acr;
  return new SignJWT(payload)
    // RFC 9068 §2.1: `at+jwt`, so an access token is never taken for an ID token.
    .setProtectedHeader({ alg: key.algorithm, kid: key.kid, typ: "at+jwt" })
    .setIssuer(claims.issuer)
    .setAudience(claims.audience)
    .setSubject(claims.userId)
    .setJti(claims.jti)
    .setIssuedAt(seconds(claims.issuedAt))
    .setExpirationTime(seconds(claims.expiresAt))
    .sign(key.privateKey);
}

/**
 * An access token's `jti`: a UUID whose first 64 bits are those of the
 * refresh token issued with it and whose last 64 are random (RFC 4122
 * variant bits kept). Unique per token, as RFC 7519 wants, yet an operator
 * holding only a `jti` from a log can find its session through the refresh
 * token's primary key, with nothing stored per access token.
 */
export function accessTokenJti(refreshTokenId: string, random: Buffer): string {
  const tail = Buffer.from(random.subarray(0, 8));
  tail[0] = ((tail[0] ?? 0) & 0x3f) | 0x80;
  const hex = tail.toString("hex");
  return `${refreshTokenId.slice(0, 18)}-${hex.slice(0, 4)}-${hex.slice(4)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The range of refresh-token ids a `jti` from accessTokenJti can come from; undefined when it is not a UUID. */
export function refreshTokenIdRangeOf(jti: string): { readonly from: string; readonly to: string } | undefined {
  if (!UUID.test(jti)) return undefined;
  const prefix = jti.slice(0, 18).toLowerCase();
  return { from: `${prefix}-0000-000000000000`, to: `${prefix}-ffff-ffffffffffff` };
}
