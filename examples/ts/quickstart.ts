// session-authority from a Node service: the calls a service makes, end to end,
// through the buf-generated grpc-js clients of the `@session-authority/client`
// package (clients/ts in the repository).
//
//   npm install ../session-authority/clients/ts     (after `npm run build` there)
//   npx tsx quickstart.ts
//
// SESSION_AUTHORITY_TARGET (default 127.0.0.1:50051) and SESSION_AUTHORITY_API_KEY
// (sent as `authorization: Bearer …` when set) choose the server and the caller.
import {
  apiKeyMetadata,
  createClients,
  CreateSessionRequest,
  errorReason,
  ListSessionsRequest,
  RefreshTokensRequest,
  RevokeSessionRequest,
  revocationEventKindToJSON,
  unary,
  VerifyAccessTokenRequest,
  WatchRevocationsRequest,
  type RevocationEvent,
} from "@session-authority/client";
import { status } from "@grpc/grpc-js";

const target = process.env["SESSION_AUTHORITY_TARGET"] ?? "127.0.0.1:50051";
const metadata = apiKeyMetadata(process.env["SESSION_AUTHORITY_API_KEY"]);
const client = { userAgent: "quickstart/1.0 (node)", ipAddress: "203.0.113.7" };
const codeName = (code: number | undefined) => (code === undefined ? "UNKNOWN" : status[code]);

const { sessions, tokens, close } = createClients(target);
const createSession = unary(sessions, sessions.createSession);
const refreshTokens = unary(tokens, tokens.refreshTokens);
const verifyAccessToken = unary(tokens, tokens.verifyAccessToken);
const listSessions = unary(sessions, sessions.listSessions);
const revokeSession = unary(sessions, sessions.revokeSession);
const user = `alice-ts-${process.pid}`;

// 1. Log a user in (after your service checked the password).
const login = await createSession(CreateSessionRequest.fromPartial({ userId: user, deviceName: "laptop", ...client }), metadata);
const sessionId = login.session!.sessionId;
const loginRefresh = login.tokens!.refreshToken;
console.log(`login: session ${sessionId} for ${user}`);

// 2. Refresh, then retry the same refresh as a client whose answer was lost:
//    inside the grace window the same caller and client get the same successor.
const first = await refreshTokens(RefreshTokensRequest.fromPartial({ refreshToken: loginRefresh, ...client }), metadata);
const retry = await refreshTokens(RefreshTokensRequest.fromPartial({ refreshToken: loginRefresh, ...client }), metadata);
console.log(`refresh: new pair, refresh token changed: ${first.tokens!.refreshToken !== loginRefresh}`);
console.log(`refresh retried inside the grace window: same successor: ${retry.tokens!.refreshToken === first.tokens!.refreshToken}`);

// 3. Verify an access token (resource servers can also verify locally: SessionVerifier).
const { claims } = await verifyAccessToken(VerifyAccessTokenRequest.fromPartial({ accessToken: first.tokens!.accessToken }), metadata);
console.log(`verify: user ${claims!.userId}, session ${claims!.sessionId}`);

// 4. List the user's sessions.
const listed = await listSessions(ListSessionsRequest.fromPartial({ userId: user }), metadata);
console.log(`list: ${listed.sessions.length} active session(s)`);

// 5. Errors carry a google.rpc.ErrorInfo whose reason is what to branch on.
try {
  await refreshTokens(RefreshTokensRequest.fromPartial({ refreshToken: "sa_rt_not-a-real-token" }), metadata);
} catch (error) {
  console.log(`error: ${codeName((error as { code?: number }).code)} with reason ${errorReason(error)}`);
}

// 6. Watch revocations (from now), then revoke: the event arrives on the stream.
const stream = tokens.watchRevocations(WatchRevocationsRequest.fromPartial({}), metadata);
const revoked = await new Promise<RevocationEvent>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("watch: nothing within 10 s")), 10_000);
  let revoking = false;
  stream.on("error", (error: { code?: number }) => {
    if (error.code !== status.CANCELLED) reject(error as Error);
  });
  stream.on("data", (message: { event?: RevocationEvent; heartbeat?: unknown }) => {
    // The first heartbeat comes once the stream is current: from then on nothing is missed.
    if (message.heartbeat !== undefined && !revoking) {
      revoking = true;
      revokeSession(RevokeSessionRequest.fromPartial({ sessionId, reason: "logout" }), metadata).catch(reject);
    } else if (message.event?.sessionId === sessionId) {
      clearTimeout(timer);
      resolve(message.event);
    }
  });
});
console.log(`watch: ${revocationEventKindToJSON(revoked.kind)} for session ${revoked.sessionId}, reason ${revoked.reason}`);
stream.cancel();

// 7. The revoked session's access token no longer verifies.
try {
  await verifyAccessToken(VerifyAccessTokenRequest.fromPartial({ accessToken: first.tokens!.accessToken }), metadata);
  console.error("revoke: the access token still verifies");
  process.exitCode = 1;
} catch (error) {
  console.log(`revoke: verify now fails with ${codeName((error as { code?: number }).code)} / ${errorReason(error)}`);
}
close();
