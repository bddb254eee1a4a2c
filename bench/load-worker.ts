import { createHash, randomUUID } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";
import * as grpc from "@grpc/grpc-js";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from "jose";
import pg from "pg";
import protobuf from "protobufjs";
import { SessionVerifier } from "../clients/ts/src/index.js";
import { deriveSuccessor, deriveSuccessorV1, hashRefreshToken } from "../src/crypto/refresh-token.js";
import { services } from "../src/grpc/proto.js";
import { check, healthClient } from "../test/support/health.js";

// One load generator thread: drives one scenario for a fixed time with a
// fixed number of calls in flight, over its own share of the item pool, and
// hands back every latency (ms), the error count and the items as they end
// (rotated refresh tokens replace their parents).

export interface WorkerTask {
  readonly scenario: Scenario;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly databaseUrl: string;
  readonly seconds: number;
  readonly concurrency: number;
  readonly items: string[];
  readonly warmupMs: number;
  /** Warm up until every item was used once (and at least warmupMs): the steady state of a working set. */
  readonly warmupEveryItem?: boolean;
  /** The embedded verifier's VerifiedTokens capacity (0: every signature checked). */
  readonly verifiedTokenCacheSize?: number;
}

export type Scenario =
  | "health"
  | "create"
  | "refresh"
  | "verify"
  | "check"
  | "list"
  | "touch"
  | "jose"
  | "embedded"
  | "raw-rotation"
  | "sql-rotation";

export interface WorkerResult {
  readonly kind: "result";
  readonly latencies: Float64Array;
  /** Share of the measured phase this load thread's event loop was busy (0–1): the load generator's own cost. */
  readonly busy: number;
  readonly errors: number;
  readonly firstError: string;
  readonly items: string[];
}

type Operation = (slot: number) => Promise<void>;

async function operationFor(task: WorkerTask, items: string[]): Promise<{ run: Operation; close: () => Promise<void> }> {
  const meta = { ip_address: "203.0.113.9", user_agent: "bench" };
  switch (task.scenario) {
    case "health": {
      const client = healthClient(task.grpcPort);
      return { run: async () => void (await check(client)), close: async () => client.close() };
    }
    case "jose": {
      const jwks = createLocalJWKSet((await (await fetch(`http://127.0.0.1:${task.httpPort}/.well-known/jwks.json`)).json()) as JSONWebKeySet);
      return {
        run: async (slot) => void (await jwtVerify(items[slot] ?? "", jwks, { issuer: "session-authority", audience: "platform" })),
        close: async () => undefined,
      };
    }
    case "embedded": {
      const verifier = await SessionVerifier.start({
        target: `127.0.0.1:${task.grpcPort}`,
        jwksUrl: `http://127.0.0.1:${task.httpPort}/.well-known/jwks.json`,
        ...(task.verifiedTokenCacheSize === undefined ? {} : { verifiedTokenCacheSize: task.verifiedTokenCacheSize }),
      });
      return {
        run: async (slot) => {
          // A remembered token is verified without I/O; yield as a request handler between requests would,
          // so the verifier's stream and timers run and the rate is one a real process could see.
          await new Promise(setImmediate);
          const result = await verifier.verify(items[slot] ?? "");
          if (!result.valid || result.source !== "local") throw new Error(`not verified locally: ${result.source}`);
        },
        close: async () => verifier.close(),
      };
    }
    case "raw-rotation":
      return rawRotation(task, items);
    case "sql-rotation":
      return sqlRotation(task, items);
    default: {
      const v1 = services.sessionauthority.v1;
      const client = new grpc.Client(`127.0.0.1:${task.grpcPort}`, grpc.credentials.createInsecure());
      const session = v1.SessionService.service;
      const token = v1.TokenService.service;
      const authorization = services.envoy.service.auth.v3.Authorization.service;
      const run: Operation = async (slot) => {
        const item = items[slot] ?? "";
        if (task.scenario === "create") await call(client, session.CreateSession, { user_id: item, ...meta });
        else if (task.scenario === "refresh") {
          const response = await call(client, token.RefreshTokens, { refresh_token: item, ...meta }, token.RefreshTokens.responseDeserialize);
          items[slot] = response.tokens?.refresh_token ?? "";
        } else if (task.scenario === "verify") await call(client, token.VerifyAccessToken, { access_token: item });
        else if (task.scenario === "check") {
          // Envoy's ext_authz call for the same token; a denial is an answer, not an error, so it is read.
          const allowed = await call(client, authorization.Check, edgeRequestFor(item), checkAllowed);
          if (!allowed) throw new Error("Check denied the request");
        }
        else if (task.scenario === "list") await call(client, session.ListSessions, { user_id: item, page_size: 10 });
        else await call(client, session.TouchSession, { session_id: item });
      };
      return { run, close: async () => client.close() };
    }
  }
}

/** What Envoy sends for `GET /v1/orders` with the token, only the authorization header allowed through. */
const edgeRequestFor = (accessToken: string) => ({
  attributes: { request: { http: { method: "GET", host: "api.example.com", path: "/v1/orders", headers: { authorization: `Bearer ${accessToken}` } } } },
});

/**
 * Whether a CheckResponse allows (status code OK), read from its bytes:
 * decoding the whole answer would cost the load generator more than the
 * other scenarios' discarded responses do. CheckResponse.status is field 1,
 * google.rpc.Status.code its field 1; proto3 leaves out a code of 0 (OK).
 */
function checkAllowed(bytes: Buffer): boolean {
  const response = protobuf.Reader.create(bytes);
  while (response.pos < response.len) {
    const tag = response.uint32();
    if (tag !== 0x0a) {
      response.skipType(tag & 7);
      continue;
    }
    const status = protobuf.Reader.create(response.bytes());
    while (status.pos < status.len) {
      const field = status.uint32();
      if (field === 0x08) return status.int32() === 0;
      status.skipType(field & 7);
    }
    return true;
  }
  return false;
}

/**
 * One unary call. The response is decoded only when the scenario needs it
 * (the rotated refresh token): like the health floor's, the load generator's
 * own cost stays small and alike across scenarios, so the rates compare servers.
 */
function call<Request, Response = Buffer>(
  client: grpc.Client,
  method: { readonly path: string; readonly requestSerialize: grpc.serialize<Request> },
  request: Request,
  decode: (bytes: Buffer) => Response = (bytes) => bytes as Response,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(method.path, method.requestSerialize, decode, request, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (error, response) => {
      if (error) reject(error);
      else if (response === undefined) reject(new Error("no response"));
      else resolve(response);
    });
  });
}

// The rotation's own statements (those of RotationRepository), as plain pg
// prepared statements in one transaction: the database's floor.
const LOCK = `SELECT t.id, t.session_id, t.token_version, t.global_version, t.expires_at, t.rotated_at, t.revoked_at,
       s.user_id, s.created_by, s.expires_at AS session_expires_at, s.revoked_at AS session_revoked_at, s.refresh_ttl_seconds,
       u.token_version AS current_token_version, g.global_version AS current_global_version, now() AS started
  FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.user_id = s.user_id JOIN global_state g ON g.id = 1
 WHERE t.token_hash = $1 FOR UPDATE OF t`;
const MARK = `UPDATE refresh_tokens SET rotated_at = clock_timestamp(), rotated_by = $2, rotated_client = $3
 WHERE id = $1::uuid AND COALESCE(rotated_at, revoked_at) IS NULL`;
const INSERT = `INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, token_version, global_version, issued_at, expires_at)
 VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $6, now(), LEAST(now() + make_interval(secs => $7), $8)) RETURNING expires_at`;
const ACTIVITY = `UPDATE sessions s SET last_activity_at = now(), last_ip_address = COALESCE($2, s.last_ip_address)
  FROM users u, global_state g WHERE s.id = $1::uuid AND u.user_id = s.user_id AND g.id = 1
  RETURNING s.*, u.token_version AS user_token_version, u.token_version_reason, u.token_version_bumped_at, g.global_version, g.reason, g.bumped_at`;
const graceKey = createHash("sha256").update("bench floor").digest();

async function rawRotation(task: WorkerTask, items: string[]): Promise<{ run: Operation; close: () => Promise<void> }> {
  const pool = new pg.Pool({ connectionString: task.databaseUrl, max: task.concurrency });
  const run: Operation = async (slot) => {
    const token = items[slot] ?? "";
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      const locked = (await client.query({ name: "lock", text: LOCK, values: [hashRefreshToken(token)] })).rows[0] as Record<string, unknown> | undefined;
      if (locked === undefined || locked["rotated_at"] !== null) throw new Error("token not live");
      await client.query({ name: "mark", text: MARK, values: [locked["id"], "anonymous", createHash("sha256").update("bench\n203.0.113.9").digest()] });
      // The derivation of the release this floor was fixed at, so the yardstick does not move.
      const successor = deriveSuccessorV1(graceKey, token, String(locked["id"]));
      await client.query({
        name: "insert",
        text: INSERT,
        values: [randomUUID(), locked["session_id"], locked["id"], successor.hash, locked["token_version"], locked["global_version"], locked["refresh_ttl_seconds"], locked["session_expires_at"]],
      });
      await client.query({ name: "activity", text: ACTIVITY, values: [locked["session_id"], "203.0.113.9"] });
      await client.query("COMMIT");
      items[slot] = successor.token;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
  return { run, close: () => pool.end() };
}

// The fastest correct rotation plain SQL allows, the limit: one statement
// that locks the token, checks it is live and current on the database clock,
// spends it, inserts the successor and records the activity (the shape of
// RotationRepository.rotateIfLive), as a named prepared statement in
// autocommit: one round trip, no transaction statements around it.
const ROTATE = `WITH presented AS (
    SELECT t.id, t.session_id, t.token_version, t.global_version, t.expires_at, t.rotated_at, t.revoked_at,
           s.created_by, s.expires_at AS session_expires_at, s.revoked_at AS session_revoked_at, s.refresh_ttl_seconds,
           u.token_version AS current_token_version, g.global_version AS current_global_version, now() AS started
      FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.user_id = s.user_id JOIN global_state g ON g.id = 1
     WHERE t.token_hash = $1 FOR UPDATE OF t
  ), live AS (
    SELECT * FROM presented p
     WHERE p.rotated_at IS NULL AND p.revoked_at IS NULL AND p.session_revoked_at IS NULL AND p.created_by = $2
       AND p.token_version >= p.current_token_version AND p.global_version >= p.current_global_version
       AND p.expires_at > p.started AND p.session_expires_at > p.started
  ), spent AS (
    UPDATE refresh_tokens t SET rotated_at = clock_timestamp(), rotated_by = $2, rotated_client = $3 FROM live WHERE t.id = live.id RETURNING t.id
  ), successor AS (
    INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, token_version, global_version, issued_at, expires_at)
    SELECT $4::uuid, live.session_id, live.id, $5, live.token_version, live.global_version, now(),
           LEAST(now() + make_interval(secs => live.refresh_ttl_seconds), live.session_expires_at)
      FROM live JOIN spent ON spent.id = live.id RETURNING expires_at
  ), activity AS (
    UPDATE sessions s SET last_activity_at = now(), last_ip_address = COALESCE($6, s.last_ip_address)
      FROM live WHERE s.id = live.session_id AND EXISTS (SELECT 1 FROM successor) RETURNING s.*
  )
  SELECT (SELECT expires_at FROM successor) AS successor_expires_at, a.* FROM presented p LEFT JOIN activity a ON true`;

async function sqlRotation(task: WorkerTask, items: string[]): Promise<{ run: Operation; close: () => Promise<void> }> {
  const pool = new pg.Pool({ connectionString: task.databaseUrl, max: task.concurrency });
  const client = createHash("sha256").update("bench\n203.0.113.9").digest();
  const run: Operation = async (slot) => {
    const token = items[slot] ?? "";
    const successor = deriveSuccessor(graceKey, token);
    const { rows } = await pool.query({ name: "rotate", text: ROTATE, values: [hashRefreshToken(token), "anonymous", client, randomUUID(), successor.hash, "203.0.113.9"] });
    if ((rows[0] as { successor_expires_at: Date | null } | undefined)?.successor_expires_at == null) throw new Error("token not live");
    items[slot] = successor.token;
  };
  return { run, close: () => pool.end() };
}

async function drive(task: WorkerTask): Promise<WorkerResult> {
  const items = [...task.items];
  const { run, close } = await operationFor(task, items);
  const latencies: number[] = [];
  let errors = 0;
  let firstError = "";
  let busy = 0;
  let cursor = 0;
  // Each in-flight lane owns the slots it takes, so a rotated token is never presented twice at once.
  const take = () => {
    const slot = cursor % items.length;
    cursor += 1;
    return slot;
  };
  const lane = async (until: number, record: boolean, everyItem = false) => {
    while (performance.now() < until || (everyItem && cursor < items.length)) {
      const slot = take();
      const started = performance.now();
      try {
        await run(slot);
        if (record) latencies.push(performance.now() - started);
      } catch (error) {
        if (record) {
          errors += 1;
          firstError ||= error instanceof Error ? error.message.slice(0, 200) : String(error);
        }
      }
    }
  };
  try {
    const warmupEnd = performance.now() + task.warmupMs;
    await Promise.all(Array.from({ length: task.concurrency }, () => lane(warmupEnd, false, task.warmupEveryItem === true)));
    // The parent reads the server's CPU between these two messages, so warmup is not counted.
    parentPort?.postMessage({ kind: "measuring" });
    const utilisation = performance.eventLoopUtilization();
    const end = performance.now() + task.seconds * 1000;
    await Promise.all(Array.from({ length: task.concurrency }, () => lane(end, true)));
    busy = performance.eventLoopUtilization(utilisation).utilization;
    parentPort?.postMessage({ kind: "measured" });
  } finally {
    await close();
  }
  return { kind: "result", latencies: Float64Array.from(latencies), busy, errors, firstError, items };
}

const result = await drive(workerData as WorkerTask);
parentPort?.postMessage(result, [result.latencies.buffer as ArrayBuffer]);
