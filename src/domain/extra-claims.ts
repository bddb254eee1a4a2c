import { RESERVED_CLAIMS } from "../crypto/access-token.js";
import { DomainError, invalidArgument } from "./errors.js";

const MAX_CLAIMS = 32;
const MAX_SERIALIZED_BYTES = 4096;

/** Extra claims ride in every access token: bounded, and never shadowing ours. */
export function validateExtraClaims(field: string, claims: Record<string, unknown>): Record<string, unknown> {
  const names = Object.keys(claims);
  if (names.length > MAX_CLAIMS) throw invalidArgument(field, `at most ${MAX_CLAIMS} claims`);
  for (const name of names) {
    if (RESERVED_CLAIMS.has(name)) {
      throw new DomainError("RESERVED_CLAIM", `${field}: "${name}" is a reserved claim name`, {
        metadata: { field, claim: name },
      });
    }
    if (name.length === 0 || name.length > 64) throw invalidArgument(field, "claim names must be 1-64 characters");
  }
  // PostgreSQL's jsonb cannot store U+0000, and no claim needs it.
  if (JSON.stringify(claims).includes("\\u0000")) throw invalidArgument(field, "must not contain NUL characters");
  if (Buffer.byteLength(JSON.stringify(claims)) > MAX_SERIALIZED_BYTES) {
    throw invalidArgument(field, `must serialise to at most ${MAX_SERIALIZED_BYTES} bytes of JSON`);
  }
  return claims;
}
