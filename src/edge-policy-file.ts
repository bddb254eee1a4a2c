import { readFileSync } from "node:fs";
import { z } from "zod";
import type { EdgeRoute } from "./domain/edge-routes.js";

// EXT_AUTHZ_POLICY_FILE: which requests Envoy's Check lets through, route by
// route (README "At the mesh edge"). Read once at start by config.ts; a bad
// file stops the start with the field that is wrong.

const nonEmpty = z.string().min(1);
const claimValues = z.array(nonEmpty).min(1);

const routeSchema = z
  .object({
    host: nonEmpty.optional(),
    path_prefix: z.string().startsWith("/", 'must start with "/"'),
    public: z.literal(true).optional(),
    require: z
      .object({
        org_ids: claimValues.optional(),
        // One accepted value or a list of them.
        acr: z.union([nonEmpty.transform((value) => [value]), claimValues]).optional(),
        amr: claimValues.optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((route) => route.public !== true || route.require === undefined, { message: "a public route cannot require claims", path: ["require"] });

const policySchema = z.object({ routes: z.array(routeSchema) }).strict();

export class EdgePolicyError extends Error {
  override readonly name = "EdgePolicyError";
}

export function parseEdgePolicy(raw: unknown): EdgeRoute[] {
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) throw new EdgePolicyError(parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; "));
  return parsed.data.routes.map((route) => ({
    host: route.host,
    pathPrefix: route.path_prefix,
    public: route.public === true,
    require: { orgIds: route.require?.org_ids, acr: route.require?.acr, amr: route.require?.amr },
  }));
}

export function readEdgePolicy(file: string): EdgeRoute[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new EdgePolicyError(`cannot read ${file} as JSON (${String(error)})`);
  }
  return parseEdgePolicy(raw);
}
