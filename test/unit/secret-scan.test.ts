import { describe, expect, it } from "vitest";
import { rememberSecret, rememberTokensIn, secretsIn } from "../support/secret-scan.js";

// The suite-wide scan (test/support/secret-scan.setup.ts) is only as good as
// its matcher: it must find a remembered secret anywhere in a line, and not
// repeat it whole in its own report.
describe("the secret scan", () => {
  it("finds tokens from responses and remembered keys inside any text, and reports them shortened", () => {
    rememberTokensIn({ session: { session_id: "s" }, tokens: { access_token: "eyJhbGciOiJFZERTQSJ9.payload.signature", refresh_token: "sa_rt_0123456789abcdefghijABCDEFGHIJ" } });
    rememberSecret("kek-0123456789abcdef-base64");
    expect(secretsIn('{"msg":"call","token":"sa_rt_0123456789abcdefghijABCDEFGHIJ"}')).toEqual(["sa_rt_01…"]);
    expect(secretsIn("Bearer eyJhbGciOiJFZERTQSJ9.payload.signature")).toEqual(["eyJhbGci…"]);
    expect(secretsIn("kek=kek-0123456789abcdef-base64\n")).toEqual(["kek-0123…"]);
    expect(secretsIn('{"msg":"call","method":"/sessionauthority.v1.TokenService/RefreshTokens"}')).toEqual([]);
  });
});
