import { describe, expect, it } from "vitest";
import { timeVerdict, VerifiedTokens, type VerifiedToken } from "../../clients/ts/src/verified-tokens.js";

const entry = (kid: string): VerifiedToken => ({ kid, alg: "EdDSA", expiresAt: 1_000, notBefore: undefined, issuedAt: 400 });

describe("VerifiedTokens", () => {
  it("answers only for the exact token it was given, and keeps at most its capacity, oldest out first", () => {
    const cache = new VerifiedTokens(2);
    cache.remember("a.b.c", entry("first"));
    expect(cache.lookup("a.b.c")?.kid).toBe("first");
    expect(cache.lookup("a.b.C")).toBeUndefined();
    expect(cache.lookup("a.b.c ")).toBeUndefined();
    cache.remember("d.e.f", entry("second"));
    cache.remember("g.h.i", entry("third"));
    expect(cache.size).toBe(2);
    expect(cache.lookup("a.b.c")).toBeUndefined();
    expect(cache.lookup("g.h.i")?.kid).toBe("third");
    cache.forget("g.h.i");
    expect(cache.lookup("g.h.i")).toBeUndefined();
  });

  it("remembers nothing with capacity 0", () => {
    const cache = new VerifiedTokens(0);
    cache.remember("a.b.c", entry("first"));
    expect(cache.lookup("a.b.c")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("refuses a size that is not a whole number of 0 or more, which would never evict", () => {
    for (const size of [Number.NaN, -1, 1.5, Infinity]) expect(() => new VerifiedTokens(size)).toThrow(RangeError);
  });
});

describe("timeVerdict", () => {
  const token = { expiresAt: 1_000, notBefore: 500, issuedAt: 400 };
  it("applies jose's rules for exp, nbf and iat with the same tolerance", () => {
    expect(timeVerdict(token, 700, 60)).toBeUndefined();
    expect(timeVerdict(token, 1_059, 60)).toBeUndefined();
    expect(timeVerdict(token, 1_060, 60)).toBe("expired");
    expect(timeVerdict(token, 441, 60)).toBeUndefined();
    expect(timeVerdict(token, 439, 60)).toBe("not_yet_valid");
    expect(timeVerdict({ ...token, notBefore: undefined }, 339, 60)).toBe("issued_in_future");
  });
});
