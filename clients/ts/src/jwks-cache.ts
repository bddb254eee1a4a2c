import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";

const DEFAULT_MAX_AGE_MS = 5 * 60_000;
// A token naming an unknown kid may refetch at most this often.
const UNKNOWN_KID_COOLDOWN_MS = 1_000;

/**
 * The server's JWKS, cached as long as its Cache-Control max-age allows, and
 * refetched early when a token names a key we do not have (a key published
 * since, after a rotation or an emergency revocation).
 */
export class JwksCache {
  private keys: JWTVerifyGetKey | undefined;
  private kids = new Set<string>();
  private expiresAt = 0;
  private lastFetch = Number.NEGATIVE_INFINITY;
  private fetching: Promise<void> | undefined;

  constructor(private readonly url: string) {}

  async keyFor(kid: string): Promise<JWTVerifyGetKey> {
    const now = Date.now();
    if (this.keys === undefined || now >= this.expiresAt || (!this.kids.has(kid) && now - this.lastFetch >= UNKNOWN_KID_COOLDOWN_MS)) {
      await this.refresh();
    }
    if (this.keys === undefined) throw new Error("no JWKS fetched yet");
    return this.keys;
  }

  /** Whether the JWKS as last fetched lists `kid`. */
  lists(kid: string): boolean {
    return this.kids.has(kid);
  }

  refresh(): Promise<void> {
    this.fetching ??= this.fetchOnce().finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  private async fetchOnce(): Promise<void> {
    this.lastFetch = Date.now();
    const response = await fetch(this.url, { headers: { accept: "application/json" } });
    if (!response.ok) throw new Error(`JWKS fetch from ${this.url} answered ${response.status}`);
    const set = (await response.json()) as JSONWebKeySet;
    this.keys = createLocalJWKSet(set);
    this.kids = new Set(set.keys.map((key) => key.kid ?? ""));
    this.expiresAt = this.lastFetch + maxAgeMs(response.headers.get("cache-control"));
  }
}

function maxAgeMs(cacheControl: string | null): number {
  if (cacheControl === null) return DEFAULT_MAX_AGE_MS;
  if (/\bno-(store|cache)\b/.test(cacheControl)) return 0;
  const match = /\bmax-age=(\d+)/.exec(cacheControl);
  return match === null ? DEFAULT_MAX_AGE_MS : Number(match[1]) * 1000;
}
