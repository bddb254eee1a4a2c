import { createHash, createHmac, randomBytes } from "node:crypto";

// Refresh tokens are opaque: 256 bits from the CSPRNG behind a fixed prefix,
// so secret scanners can recognise a leaked one. Only the SHA-256 is stored:
// a database dump yields no usable token, and lookup stays one index probe
// (a slow password hash would force scanning, and 256 random bits need none).

export const REFRESH_TOKEN_PREFIX = "sa_rt_";
const SECRET_BYTES = 32;
const shape = /^sa_rt_[A-Za-z0-9_-]{43}$/;

export interface IssuedRefreshToken {
  /** Hand to the client once; never store or log. */
  readonly token: string;
  readonly hash: Buffer;
}

export type RandomBytes = (size: number) => Buffer;

export function issueRefreshToken(random: RandomBytes = randomBytes): IssuedRefreshToken {
  const token = REFRESH_TOKEN_PREFIX + random(SECRET_BYTES).toString("base64url");
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/** True when the text has the shape of one of our refresh tokens. */
export function looksLikeRefreshToken(text: string): boolean {
  return shape.test(text);
}

/**
 * The successor of a rotated token is derived, not drawn: HMAC(grace key,
 * parent secret ‖ parent id). A client retrying a refresh whose response it
 * lost gets the very same successor, and no secret is ever stored to make
 * that possible (the database keeps only the successor's hash).
 */
export function deriveSuccessor(graceKey: Buffer, parentToken: string, parentId: string): IssuedRefreshToken {
  const secret = createHmac("sha256", graceKey).update(parentToken).update("\u0000").update(parentId).digest();
  const token = REFRESH_TOKEN_PREFIX + secret.toString("base64url");
  return { token, hash: hashRefreshToken(token) };
}
