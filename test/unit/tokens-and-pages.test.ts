import { describe, expect, it } from "vitest";
import { deriveSuccessor, deriveSuccessorV1, hashRefreshToken, issueRefreshToken, looksLikeRefreshToken } from "../../src/crypto/refresh-token.js";
import { DomainError } from "../../src/domain/errors.js";
import { validateExtraClaims } from "../../src/domain/extra-claims.js";
import { decodePageToken, encodePageToken, queryFingerprint } from "../../src/domain/page-token.js";

describe("refresh tokens", () => {
  it("are 256 random bits behind a scanner-friendly prefix, and only their SHA-256 is kept", () => {
    const issued = issueRefreshToken();
    expect(issued.token).toMatch(/^sa_rt_[A-Za-z0-9_-]{49}$/);
    expect(Buffer.from(issued.token.slice(6, 49), "base64url")).toHaveLength(32);
    expect(issued.hash).toEqual(hashRefreshToken(issued.token));
    expect(issued.hash).toHaveLength(32);
    expect(issueRefreshToken().token).not.toBe(issued.token);
  });

  it("are recognised by shape, so garbage costs no database lookup", () => {
    expect(looksLikeRefreshToken(issueRefreshToken().token)).toBe(true);
    expect(looksLikeRefreshToken("sa_rt_short")).toBe(false);
    // Another system's token may have been imported: looked up, not refused.
    expect(looksLikeRefreshToken(`xx_rt_${"A".repeat(43)}`)).toBe(true);
    expect(looksLikeRefreshToken("short-garbage")).toBe(false);
    expect(looksLikeRefreshToken(`has space ${"A".repeat(20)}`)).toBe(false);
    expect(looksLikeRefreshToken("A".repeat(513))).toBe(false);
    // The checksum catches a typo or garbage before any database lookup…
    const token = issueRefreshToken().token;
    const typo = `${token.slice(0, 20)}${token[20] === "A" ? "B" : "A"}${token.slice(21)}`;
    expect(looksLikeRefreshToken(typo)).toBe(false);
    expect(looksLikeRefreshToken(`sa_rt_${"A".repeat(49)}`)).toBe(false);
    // …and tokens issued before checksums (no suffix) still pass until they expire.
    expect(looksLikeRefreshToken(`sa_rt_${"A".repeat(43)}`)).toBe(true);
  });

  it("derive successors in their parent's form, so a grace retry across the upgrade finds the stored one", () => {
    const key = Buffer.alloc(32, 1);
    const parent = issueRefreshToken().token;
    const current = deriveSuccessor(key, parent);
    expect(current.token).toMatch(/^sa_rt_[A-Za-z0-9_-]{49}$/);
    expect(looksLikeRefreshToken(current.token)).toBe(true);
    expect(deriveSuccessor(key, `sa_rt_${"A".repeat(43)}`).token).toMatch(/^sa_rt_[A-Za-z0-9_-]{43}$/);
    // The successor a release before v2 stored is still derivable, and differs.
    const v1 = deriveSuccessorV1(key, parent, "parent-id");
    expect(v1.token).not.toBe(current.token);
    expect(deriveSuccessorV1(key, parent, "parent-id").token).toBe(v1.token);
    expect(deriveSuccessor(key, parent).token).toBe(current.token);
  });
});

describe("page tokens", () => {
  const cursor = { createdAt: new Date("2026-01-02T03:04:05.678Z"), id: "0b7c2a3e-8f00-4a57-9d1b-2c3d4e5f6a7b" };

  it("round-trip the keyset position for the same listing", () => {
    const query = queryFingerprint(["user", false]);
    expect(decodePageToken(query, encodePageToken(query, cursor))).toEqual(cursor);
  });

  it("are refused for another listing or when forged", () => {
    const token = encodePageToken(queryFingerprint(["user", false]), cursor);
    const reasonOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof DomainError ? error.code : "other";
      }
      return "accepted";
    };
    expect(reasonOf(() => decodePageToken(queryFingerprint(["user", true]), token))).toBe("INVALID_PAGE_TOKEN");
    expect(reasonOf(() => decodePageToken(queryFingerprint(["user", false]), "%%%"))).toBe("INVALID_PAGE_TOKEN");
    expect(reasonOf(() => decodePageToken(queryFingerprint(["user", false]), "x".repeat(600)))).toBe("INVALID_PAGE_TOKEN");
  });
});

describe("extra claims", () => {
  it("are bounded in count and size", () => {
    expect(() => validateExtraClaims("c", Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])))).toThrow(/at most 32/);
    expect(() => validateExtraClaims("c", { big: "x".repeat(5000) })).toThrow(/4096 bytes/);
    expect(validateExtraClaims("c", { plan: "pro" })).toEqual({ plan: "pro" });
  });
});
