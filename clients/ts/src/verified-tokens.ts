import { hash } from "node:crypto";

/**
 * What a token's signature and claims checks established, kept so they need
 * not run again. Not the claims: a hit decodes them afresh from the token
 * (the very bytes that were verified), so no caller can change what another
 * sees or what revocation is checked against, and an entry's size does not
 * grow with the token's claims.
 */
export interface VerifiedToken {
  readonly kid: string;
  /** The header's `alg`, for callers that recheck the key's algorithm. */
  readonly alg: string;
  /** `exp`, `nbf` and `iat` in seconds, rechecked on every use: the only verdicts that change with time. */
  readonly expiresAt: number;
  readonly notBefore: number | undefined;
  readonly issuedAt: number;
}

export type TimeVerdict = "expired" | "not_yet_valid" | "issued_in_future" | undefined;

/**
 * Tokens whose signature, issuer and audience checked out, by the SHA-256 of
 * the whole compact token, so the signature (an Ed25519 verification costs
 * about as much as the rest of a VerifyAccessToken call) is checked once per
 * token instead of once per request. Only the exact bytes that were verified
 * hit. Time and revocation are never cached: callers recheck both on every use.
 * Bounded; the oldest entry leaves first.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, VerifiedToken>();

  /** `capacity` 0 turns the cache off. */
  constructor(private readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError("the verified-token cache size must be a whole number, 0 or more");
  }

  get size(): number {
    return this.entries.size;
  }

  lookup(token: string): VerifiedToken | undefined {
    return this.capacity === 0 ? undefined : this.entries.get(keyOf(token));
  }

  remember(token: string, verified: VerifiedToken): void {
    if (this.capacity === 0) return;
    const key = keyOf(token);
    if (!this.entries.has(key) && this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, verified);
  }

  forget(token: string): void {
    this.entries.delete(keyOf(token));
  }

  clear(): void {
    this.entries.clear();
  }
}

function keyOf(token: string): string {
  return hash("sha256", token, "base64");
}

/** The checks jose applies to `exp`, `nbf` and `iat` (with the same tolerance), for a token verified earlier. */
export function timeVerdict(token: Pick<VerifiedToken, "expiresAt" | "notBefore" | "issuedAt">, nowSeconds: number, toleranceSeconds: number): TimeVerdict {
  if (token.expiresAt <= nowSeconds - toleranceSeconds) return "expired";
  if (token.notBefore !== undefined && token.notBefore > nowSeconds + toleranceSeconds) return "not_yet_valid";
  if (token.issuedAt > nowSeconds + toleranceSeconds) return "issued_in_future";
  return undefined;
}
