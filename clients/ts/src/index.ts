export { SessionVerifier, type Verification, type VerifierOptions } from "./verifier.js";
export { factOf, RevocationState, type RevocationFact, type RevocationSnapshotFacts, type RevocationVerdict, type TokenFacts } from "./revocation-state.js";
export { timeVerdict, VerifiedTokens, type TimeVerdict, type VerifiedToken } from "./verified-tokens.js";
