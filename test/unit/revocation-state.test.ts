import { describe, expect, it } from "vitest";
import { RevocationState } from "../../clients/ts/src/revocation-state.js";

const token = (tokenVersion: bigint) => ({ sessionId: "s-1", userId: "u-1", tokenVersion, globalVersion: 0n, keyId: "k" });

describe("RevocationState", () => {
  it("takes a user_data_deleted event's version as the user's floor, as a user_version event", () => {
    const state = new RevocationState(60_000);
    state.apply({ kind: "user_data_deleted", userId: "u-1", version: 2n }, 0);
    expect(state.check(token(1n))).toBe("VERSION_STALE");
    // A login after the deletion is stamped with the new version and lives.
    expect(state.check(token(2n))).toBeUndefined();
    // One without a version (written before deletions bumped it) changes nothing.
    state.apply({ kind: "user_data_deleted", userId: "u-2" }, 0);
    expect(state.check({ ...token(0n), userId: "u-2" })).toBeUndefined();
  });
});
