import { createHash, createHmac, randomBytes } from "node:crypto";

// Refresh tokens are opaque: 256 bits from the CSPRNG behind a fixed prefix,
// so secret scanners can recognise a leaked one, and a 32-bit checksum
// behind them, so a typo or garbage is refused before any database lookup
// (and scanners can tell a real token from a look-alike). Only the SHA-256 is
// stored: a database dump yields no usable token, and lookup stays one index
// probe (a slow password hash would force scanning, and 256 random bits need none).

export const REFRESH_TOKEN_PREFIX = "sa_rt_";
const SECRET_BYTES = 32;
const checksummed = /^sa_rt_([A-Za-z0-9_-]{43})([A-Za-z0-9_-]{6})$/;
// Issued before tokens carried a checksum; accepted until they have all
// expired (REFRESH_TOKEN_TTL_MAX after the upgrade), and rotated in the same form.
const legacy = /^sa_rt_[A-Za-z0-9_-]{43}$/;
// Tokens imported from another system (`session-authority import`) keep the
// shape they were issued in: anything without our prefix that could be a
// bearer token is looked up; ours are still checked offline.
const imported = /^[\x21-\x7e]{16,512}$/;

function checksum(body: string): string {
  return createHash("sha256").update(body).digest().subarray(0, 4).toString("base64url");
}

function tokenOf(secret: Buffer): string {
  const body = REFRESH_TOKEN_PREFIX + secret.toString("base64url");
  return body + checksum(body);
}

export interface IssuedRefreshToken {
  /** Hand to the client once; never store or log. */
  readonly token: string;
  readonly hash: Buffer;
}

export type RandomBytes = (size: number) => Buffer;

export function issueRefreshToken(random: RandomBytes = randomBytes): IssuedRefreshToken {
  const token = tokenOf(random(SECRET_BYTES));
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/**
 * Worth a database lookup: one of our refresh tokens whose checksum holds,
 * or a token of another shape that may have been imported (16 to 512
 * printable characters). Our prefix with a broken body is refused here.
 */
export function looksLikeRefreshToken(text: string): boolean {
  if (!text.startsWith(REFRESH_TOKEN_PREFIX)) return imported.test(text);
  const match = checksummed.exec(text);
  if (match !== null) return checksum(REFRESH_TOKEN_PREFIX + (match[1] ?? "")) === match[2];
  return legacy.test(text);
}

/**
 * The successor of a rotated token is derived, not drawn: HMAC(grace key,
 * "rotation-v2" ‖ 0 ‖ parent secret). A client retrying a refresh whose response it
 * lost gets the very same successor, and no secret is ever stored to make
 * that possible (the database keeps only the successor's hash).
 */
export function deriveSuccessor(graceKey: Buffer, parentToken: string): IssuedRefreshToken {
  // From the parent's secret alone (unique: 256 random bits, or a unique imported hash), so it can be
  // computed before the parent's row is read and the rotation be one statement.
  const secret = createHmac("sha256", graceKey).update("rotation-v2\u0000").update(parentToken).digest();
  return successorOf(parentToken, secret);
}

/**
 * The successor as tokens rotated before v2 derived it (with the parent's
 * id): a grace retry of a token rotated by an older release still gets the
 * successor that release stored.
 */
export function deriveSuccessorV1(graceKey: Buffer, parentToken: string, parentId: string): IssuedRefreshToken {
  const secret = createHmac("sha256", graceKey).update(parentToken).update("\u0000").update(parentId).digest();
  return successorOf(parentToken, secret);
}

function successorOf(parentToken: string, secret: Buffer): IssuedRefreshToken {
  // A legacy parent keeps its family in the legacy form, so a grace retry
  // spanning the upgrade still derives the very successor that was stored.
  const token = legacy.test(parentToken) ? REFRESH_TOKEN_PREFIX + secret.toString("base64url") : tokenOf(secret);
  return { token, hash: hashRefreshToken(token) };
}

/**
 * The refresh token of a login that carries an idempotency key is derived
 * too: HMAC(grace key, "login" ‖ session id ‖ key). A retried login can then
 * answer with the very token the first answer carried (the client may have
 * received either), instead of a second one that would make the first look
 * reused. Unguessable without the grace key, which is as secret as the
 * signing keys and wrapped under the same KEK.
 */
export function deriveLoginToken(graceKey: Buffer, sessionId: string, idempotencyKey: string): IssuedRefreshToken {
  const secret = createHmac("sha256", graceKey).update("login\u0000").update(sessionId).update("\u0000").update(idempotencyKey).digest();
  const token = tokenOf(secret);
  return { token, hash: hashRefreshToken(token) };
}
