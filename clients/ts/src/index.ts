export { SessionVerifier, type Verification, type VerifierOptions } from "./verifier.js";
export {
  authenticateBearer,
  bearerMiddleware,
  fastifyBearerHook,
  type BearerOptions,
  type BearerOutcome,
  type BearerRequest,
  type BearerResponse,
  type FastifyBearerReply,
  type FastifyBearerRequest,
  type SessionClaims,
  type TokenVerifier,
} from "./middleware.js";
export { factOf, RevocationState, type RevocationFact, type RevocationSnapshotFacts, type RevocationVerdict, type TokenFacts } from "./revocation-state.js";
export { timeVerdict, VerifiedTokens, type TimeVerdict, type VerifiedToken } from "./verified-tokens.js";
export { apiKeyMetadata, channelOptions, createClients, errorInfo, errorReason, serviceConfig, unary, type Clients } from "./client.js";
// The grpc-js the clients are built on (a peer dependency: the service's own copy).
export { credentials, Metadata, status } from "@grpc/grpc-js";
// The buf-generated clients and messages (ts-proto, `npm run generate:clients`).
export * from "./generated/sessionauthority/v1/session.js";
export * from "./generated/sessionauthority/v1/token.js";
export * from "./generated/sessionauthority/v1/session_service.js";
export * from "./generated/sessionauthority/v1/token_service.js";
export * from "./generated/sessionauthority/v1/audit_service.js";
export * from "./generated/sessionauthority/v1/error_reason.js";
export { ErrorInfo } from "./generated/google/rpc/error_details.js";
export { Status } from "./generated/google/rpc/status.js";
