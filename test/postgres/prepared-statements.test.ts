import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure } from "../support/clients.js";
import { startTestService, type TestService } from "../support/test-service.js";

// DB_PREPARED_STATEMENTS=on names every statement, so each connection
// prepares it once: the write path and its refusals must behave exactly as
// with it off, across many uses of the same statements on the same connections.
describe("DB_PREPARED_STATEMENTS=on", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService({ DB_PREPARED_STATEMENTS: "on", DB_POOL_SIZE: "2" });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("logs in, rotates, replays, detects reuse and verifies as with it off", async () => {
    for (let i = 0; i < 5; i += 1) {
      const login = await t.session("CreateSession", { user_id: `prepared-${i}`, ip_address: "198.51.100.7" });
      let token = login.tokens?.refresh_token ?? "";
      for (let r = 0; r < 4; r += 1) {
        const next = await t.token("RefreshTokens", { refresh_token: token, ip_address: "198.51.100.7" });
        // A grace retry at once gets the very same successor.
        expect((await t.token("RefreshTokens", { refresh_token: token, ip_address: "198.51.100.7" })).tokens?.refresh_token).toBe(next.tokens?.refresh_token);
        token = next.tokens?.refresh_token ?? "";
        expect((await t.token("VerifyAccessToken", { access_token: next.tokens?.access_token ?? "" })).claims?.session_id).toBe(login.session?.session_id);
      }
      const thief = await failure(t.token("RefreshTokens", { refresh_token: login.tokens?.refresh_token ?? "", ip_address: "203.0.113.66" }));
      expect(thief.errorInfo?.reason).toBe("TOKEN_REUSED");
    }
  });
});
