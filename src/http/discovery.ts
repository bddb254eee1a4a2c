import type { IncomingMessage } from "node:http";

export const JWKS_PATH = "/.well-known/jwks.json";

/** Both names stock middleware looks under: OpenID Connect Discovery 1.0 and RFC 8414. */
export const DISCOVERY_PATHS: ReadonlySet<string> = new Set(["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]);

export interface DiscoverySettings {
  /** TOKEN_ISSUER: what every access token's `iss` says, and so what a verifier must expect. */
  readonly issuer: string;
  /** PUBLIC_BASE_URL: where callers reach this side port (a proxy, an Ingress); undefined: the request's own Host. */
  readonly publicBaseUrl: string | undefined;
}

// A name or IPv4 address, or a bracketed IPv6 address, and an optional port.
const BARE_HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The base URL a caller used to reach us, from the Host header when no
 * public one is configured. Undefined when the header is missing or is not
 * a bare host[:port], so a crafted Host cannot smuggle a path or userinfo
 * into the jwks_uri we hand back.
 */
export function baseUrlOf(request: IncomingMessage, configured: string | undefined): string | undefined {
  if (configured !== undefined) return configured;
  const host = request.headers.host;
  if (host === undefined || !BARE_HOST.test(host)) return undefined;
  try {
    return new URL(`http://${host}`).origin;
  } catch {
    return undefined;
  }
}

/**
 * Only what the service implements: its issuer and where its keys are. No
 * authorization, token or userinfo endpoint, since it has none (logins
 * happen in the caller's own flows). `id_token_signing_alg_values_supported`
 * is there although no ID token is issued because stock verifiers take their
 * algorithm allow-list from it (go-oidc falls back to RS256 alone without
 * it, refusing EdDSA and ES256 tokens); it lists the algorithms of the
 * published keys, which is what the access tokens are signed with.
 */
export function discoveryDocument(issuer: string, baseUrl: string, algorithms: readonly string[]): object {
  return {
    issuer,
    jwks_uri: `${baseUrl.replace(/\/+$/, "")}${JWKS_PATH}`,
    id_token_signing_alg_values_supported: [...new Set(algorithms)],
  };
}
