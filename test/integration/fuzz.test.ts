import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageDefinition } from "../../src/grpc/proto.js";
import { check, healthClient } from "../support/health.js";
import { startTestService, type TestService } from "../support/test-service.js";

// Thousands of generated and mutated requests to every RPC, and bytes that
// are not protobuf: the server must answer each with a status a client can
// act on — never UNKNOWN or INTERNAL — keep serving, and leave the database
// consistent. Fixed seed, bounded count: the same cases on every CI run.
const SEED = 20261123;
const RUNS_PER_METHOD = 100;
const NEVER = new Set([grpc.status.UNKNOWN, grpc.status.INTERNAL]);

interface FieldDescriptor {
  name: string;
  type: string;
  label: string;
  typeName: string;
}
type MethodDefinition = {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize: (value: object) => Buffer;
  requestType: { type: { field: FieldDescriptor[] } };
};

const definitions = packageDefinition as unknown as Record<string, Record<string, MethodDefinition> & { type?: { field: FieldDescriptor[]; value?: { name: string }[] } }>;
const methods = ["sessionauthority.v1.SessionService", "sessionauthority.v1.TokenService", "sessionauthority.v1.AuditService", "envoy.service.auth.v3.Authorization"].flatMap((service) =>
  Object.values(definitions[service] as Record<string, MethodDefinition>),
);

describe("fuzzing every RPC", () => {
  let t: TestService;
  const seeds: string[] = [];
  const counted = { cases: 0, unsendable: 0, byCode: new Map<number, number>() };
  beforeAll(async () => {
    t = await startTestService();
    for (const user of ["fuzz-a", "fuzz-b"]) {
      const created = await t.session("CreateSession", { user_id: user, active_org_id: "org-fuzz" });
      seeds.push(user, created.session?.session_id ?? "", created.tokens?.access_token ?? "", created.tokens?.refresh_token ?? "");
    }
    seeds.push((await t.token("GetJwks", {})).keys[0]?.kid ?? "");
  });
  afterAll(async () => {
    console.info(`fuzz: ${counted.cases} cases sent (${counted.unsendable} not encodable), codes ${JSON.stringify(Object.fromEntries(counted.byCode))}`);
    await t?.stop();
  });

  // Strings that hit the edges: seeds (real ids and tokens) and their mutations, huge, binary, NUL, unicode.
  const text = () =>
    fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: "binary", maxLength: 80 }),
      fc.constantFrom(...seeds),
      fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.string({ minLength: 1, maxLength: 3 })).map(([seed, at, insert]) => {
        const position = seed.length === 0 ? 0 : at % seed.length;
        return seed.slice(0, position) + insert + seed.slice(position + 1);
      }),
      fc.constantFrom("", " ", "\u0000", "a\u0000b", "0.0.0.0", "::1", "999.1.1.1", "../../etc/passwd", "'; DROP TABLE sessions; --", "x".repeat(70_000)),
      fc.nat({ max: 5_000 }).map((length) => "é".repeat(length)),
    );

  function valueFor(field: FieldDescriptor, depth: number): fc.Arbitrary<unknown> {
    switch (field.type) {
      case "TYPE_STRING":
        return text();
      case "TYPE_BOOL":
        return fc.boolean();
      case "TYPE_INT32":
      case "TYPE_SINT32":
        return fc.integer();
      case "TYPE_UINT32":
        return fc.nat();
      case "TYPE_INT64":
      case "TYPE_SINT64":
        return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
      case "TYPE_UINT64":
        return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String);
      case "TYPE_DOUBLE":
      case "TYPE_FLOAT":
        return fc.double();
      case "TYPE_BYTES":
        return fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes));
      case "TYPE_ENUM": {
        const values = (definitions[field.typeName.slice(1)]?.type?.value ?? []).map((value) => value.name);
        return fc.oneof(fc.constantFrom(...(values.length > 0 ? values : ["UNSPECIFIED"])), fc.integer({ min: -5, max: 100 }));
      }
      case "TYPE_MESSAGE":
        return depth > 3 ? fc.constant(null) : messageOf(definitions[field.typeName.slice(1)]?.type?.field ?? [], depth + 1);
      default:
        return fc.constant(undefined);
    }
  }

  function messageOf(fields: FieldDescriptor[], depth: number): fc.Arbitrary<Record<string, unknown>> {
    const shape: Record<string, fc.Arbitrary<unknown>> = {};
    for (const field of fields) {
      const one = valueFor(field, depth);
      shape[field.name] = field.label === "LABEL_REPEATED" ? fc.array(one, { maxLength: depth > 1 ? 3 : 40 }) : one;
    }
    return fc.record(shape, { requiredKeys: [] });
  }

  /** Sends one request; resolves with the status code (OK for a successful unary call or a stream that sent something). */
  function send(client: grpc.Client, method: MethodDefinition, body: Buffer): Promise<number> {
    const identity = (value: Buffer) => value;
    return new Promise((resolve) => {
      const options = { deadline: Date.now() + 10_000 };
      if (method.responseStream) {
        const stream = client.makeServerStreamRequest(method.path, identity, identity, body, new grpc.Metadata(), options);
        stream.on("data", () => {
          stream.cancel();
          resolve(grpc.status.OK);
        });
        stream.on("error", (error: grpc.ServiceError) => resolve(error.code === grpc.status.CANCELLED ? grpc.status.OK : error.code));
        return;
      }
      client.makeUnaryRequest(method.path, identity, identity, body, new grpc.Metadata(), options, (error) => resolve(error?.code ?? grpc.status.OK));
    });
  }

  const record = (code: number) => {
    counted.cases += 1;
    counted.byCode.set(code, (counted.byCode.get(code) ?? 0) + 1);
    return !NEVER.has(code);
  };

  it("answers generated and mutated requests to every method with a status a client can act on", async () => {
    const client = new grpc.Client(`127.0.0.1:${t.service.grpcPort}`, grpc.credentials.createInsecure());
    try {
      for (const method of methods) {
        await fc.assert(
          fc.asyncProperty(messageOf(method.requestType.type.field, 0), async (request) => {
            let body: Buffer;
            try {
              body = method.requestSerialize(request);
            } catch {
              counted.unsendable += 1;
              return true;
            }
            const code = await send(client, method, body);
            return record(code);
          }),
          { seed: SEED, numRuns: method.responseStream ? RUNS_PER_METHOD / 4 : RUNS_PER_METHOD, endOnFailure: true },
        );
      }
    } finally {
      client.close();
    }
  }, 300_000);

  it("answers bytes that are not protobuf, on every method, without a crash", async () => {
    const client = new grpc.Client(`127.0.0.1:${t.service.grpcPort}`, grpc.credentials.createInsecure());
    try {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...methods), fc.uint8Array({ maxLength: 300 }), async (method, bytes) => record(await send(client, method, Buffer.from(bytes)))),
        { seed: SEED, numRuns: 400, endOnFailure: true },
      );
    } finally {
      client.close();
    }
  }, 300_000);

  it("is still serving, and the database invariants hold", async () => {
    const health = healthClient(t.service.grpcPort);
    expect(await check(health)).toBe("SERVING");
    health.close();
    const db = t.service.database.prisma;
    const count = async (sql: string) => Number(((await db.$queryRawUnsafe(sql)) as { n: bigint | number }[])[0]?.n ?? -1);
    // At most one live refresh token per session.
    expect(await count(`SELECT count(*) AS n FROM (SELECT session_id FROM refresh_tokens WHERE rotated_at IS NULL AND revoked_at IS NULL GROUP BY session_id HAVING count(*) > 1) x`)).toBe(0);
    // Every session has its creation event, and every revoked one its revocation event.
    expect(await count(`SELECT count(*) AS n FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM revocation_events e WHERE e.session_id = s.id AND e.kind = 'session_created')`)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM sessions s WHERE s.revoked_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM revocation_events e WHERE e.session_id = s.id AND e.kind = 'session_revoked')`)).toBe(0);
    // Every session has at least one refresh token (its family), and no token is orphaned.
    expect(await count(`SELECT count(*) AS n FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id)`)).toBe(0);
    expect(counted.cases).toBeGreaterThan(2_500);
  });
});
