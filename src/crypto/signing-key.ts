import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from "jose";

export type SigningAlgorithm = "EdDSA" | "ES256" | "RS256";

export interface GeneratedSigningKey {
  readonly kid: string;
  readonly algorithm: SigningAlgorithm;
  readonly publicJwk: JWK;
  readonly privateJwk: JWK;
}

export interface SigningKey {
  readonly kid: string;
  readonly algorithm: SigningAlgorithm;
  readonly privateKey: CryptoKey | Uint8Array;
}

export async function generateSigningKey(algorithm: SigningAlgorithm): Promise<GeneratedSigningKey> {
  const options = algorithm === "RS256" ? { modulusLength: 2048, extractable: true } : { extractable: true };
  const { publicKey, privateKey } = await generateKeyPair(algorithm, options);
  const publicJwk = await exportJWK(publicKey);
  // The thumbprint (RFC 7638) names the key by its content, so every replica
  // and every verifier derives the same kid.
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    algorithm,
    publicJwk: { ...publicJwk, kid, alg: algorithm, use: "sig" },
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: algorithm },
  };
}

export async function importSigningKey(kid: string, algorithm: SigningAlgorithm, privateJwk: JWK): Promise<SigningKey> {
  return { kid, algorithm, privateKey: await importJWK(privateJwk, algorithm) };
}
