import { SignJWT } from "jose";
import type { SigningKey } from "./signing-key.js";

/** Claim names the server sets itself; callers may not supply them as extras. */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "tv", "gv", "org", "cnf", "azp", "amr", "acr", "auth_time",
]);

export interface AccessTokenClaims {
  readonly issuer: string;
  readonly audience: string;
  readonly userId: string;
  readonly sessionId: string;
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
    tv: Number(claims.tokenVersion),
    gv: Number(claims.globalVersion),
    auth_time: seconds(claims.authTime),
  };
  if (claims.activeOrgId !== null) payload["org"] = claims.activeOrgId;
  if (claims.amr.length > 0) payload["amr"] = [...claims.amr];
  if (claims.acr !== null) payload["acr"] = claims.acr;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.algorithm, kid: key.kid, typ: "at+jwt" })
    .setIssuer(claims.issuer)
    .setAudience(claims.audience)
    .setSubject(claims.userId)
    .setJti(claims.jti)
    .setIssuedAt(seconds(claims.issuedAt))
    .setExpirationTime(seconds(claims.expiresAt))
    .sign(key.privateKey);
}
