export { SessionVerifier, type Verification, type VerifierOptions } from "./verifier.js";
export { RevocationState, type RevocationFact, type RevocationVerdict, type TokenFacts } from "./revocation-state.js";
