/**
 * What the mesh edge (Envoy's ext_authz Check) asks of a request, route by
 * route: none (public), a valid access token, or a valid token that also
 * carries some claims. The first route that matches wins; a request no route
 * matches needs a valid token and nothing more, so a route forgotten in the
 * configuration is closed, never open.
 */
export interface EdgeRoute {
  /** Matched without case and, when it names no port, against the host without its port; undefined: any host. */
  readonly host: string | undefined;
  /** A plain prefix of the path (query string excluded), as Envoy's own `prefix` route match reads it. */
  readonly pathPrefix: string;
  readonly public: boolean;
  readonly require: ClaimRequirements;
}

export interface ClaimRequirements {
  /** The token's `org` must be one of these. */
  readonly orgIds?: readonly string[] | undefined;
  /** The token's `acr` must be one of these. */
  readonly acr?: readonly string[] | undefined;
  /** The token's `amr` must contain every one of these. */
  readonly amr?: readonly string[] | undefined;
}

const TOKEN_NEEDED: EdgeRoute = { host: undefined, pathPrefix: "/", public: false, require: {} };

function hostMatches(pattern: string | undefined, host: string): boolean {
  if (pattern === undefined) return true;
  const wanted = pattern.toLowerCase();
  const given = host.toLowerCase();
  if (wanted === given) return true;
  // "api.example.com" also matches "api.example.com:8443"; an IPv6 literal keeps its brackets.
  const withoutPort = given.replace(/:\d+$/, "");
  return !/:\d+$/.test(wanted) && wanted === withoutPort;
}

export function routeFor(routes: readonly EdgeRoute[], host: string, path: string): EdgeRoute {
  const plainPath = path.split("?", 1)[0] ?? "";
  return routes.find((route) => hostMatches(route.host, host) && plainPath.startsWith(route.pathPrefix)) ?? TOKEN_NEEDED;
}
