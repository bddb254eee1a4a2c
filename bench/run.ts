// npm run bench: every scenario driven for a fixed time by load generators in
// worker threads, beside its floors, in one run, so the numbers are read as
// ratios on a shared, noisy machine. Starts its own PostgreSQL and servers,
// the servers as the image runs them: compiled (`npm run build`, run first),
// with the image's memory settings (MALLOC_* and NODE_OPTIONS).
//
//   BENCH_SECONDS=8 BENCH_CONCURRENCY=16 BENCH_WORKERS=2 BENCH_STEADY_SECONDS=60 npm run bench
//   BENCH_ROUNDS=3            the scenarios the targets compare (no-op floor, the two rotation
//                             floors, RefreshTokens and CreateSession with DB_PREPARED_STATEMENTS
//                             off and on, VerifyAccessToken EdDSA steady) alternate in this
//                             many rounds of BENCH_SECONDS each, merged into one row each
//   BENCH_ONLY="no-op;verify" only the steps whose label contains one of these words (=label: exactly)
//   BENCH_PROFILE=dir         servers write V8 CPU profiles there (--cpu-prof); read them with
//                             `npx tsx bench/profile-summary.ts dir/*.cpuprofile`
//   BENCH_SERVER_ENV='{"K":"V"}' and BENCH_SERVER_NODE_ARGS='--flag …': to try a server tuning
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import pg from "pg";
import { loadConfig } from "../src/config.js";
import { openDatabase } from "../src/store/database.js";
import { migrate } from "../src/store/migrate.js";
import { startEmbeddedPostgres, type RunningPostgres } from "../test/support/embedded-postgres.js";
import { imageEnv, readDockerfile } from "../test/support/dockerfile-replay.js";
import { runCli, type ServiceProcess } from "../test/support/service-process.js";
import type { Scenario, WorkerResult, WorkerTask } from "./load-worker.js";
import { seedSessions, type SeededSessions } from "./seed.js";

const seconds = Number(process.env["BENCH_SECONDS"] ?? 8);
const concurrency = Number(process.env["BENCH_CONCURRENCY"] ?? 16);
const workers = Number(process.env["BENCH_WORKERS"] ?? 2);
const steadySeconds = Number(process.env["BENCH_STEADY_SECONDS"] ?? 60);
// ";" between words: scenario labels themselves contain commas.
const only = (process.env["BENCH_ONLY"] ?? "").split(";").map((word) => word.trim().toLowerCase()).filter(Boolean);
const profileDir = process.env["BENCH_PROFILE"];
const image = imageEnv(await readDockerfile("Dockerfile"));
const serverEnv: Record<string, string> = {
  ...Object.fromEntries(Object.entries(image).filter(([name]) => name.startsWith("MALLOC_") || name === "NODE_OPTIONS")),
  ...(JSON.parse(process.env["BENCH_SERVER_ENV"] ?? "{}") as Record<string, string>),
};
const serverNodeArgs = (process.env["BENCH_SERVER_NODE_ARGS"] ?? "").split(" ").filter(Boolean);
const POOL = 10_000;

/** Whether a step runs under BENCH_ONLY. */
const selected = (label: string) =>
  only.length === 0 || only.some((word) => (word.startsWith("=") ? label.toLowerCase() === word.slice(1) : label.toLowerCase().includes(word)));
const MEMORY_SESSIONS = 100_000;
const rounds = Number(process.env["BENCH_ROUNDS"] ?? 3);
const NO_OP = "floor: no-op unary (health check)";
const RAW_FLOOR = "floor: rotation, raw pg statements";
const SQL_FLOOR = "floor: rotation, one plain SQL statement (the limit)";
const REFRESH = "RefreshTokens";
const REFRESH_PREPARED = "RefreshTokens, DB_PREPARED_STATEMENTS=on";
const CREATE = "CreateSession";
const CREATE_PREPARED = "CreateSession, DB_PREPARED_STATEMENTS=on";
const CHECK = "Envoy ext_authz Check (EdDSA), steady: signatures cached";
// Labels of the steps that are not a single `take`, so BENCH_ONLY selects them by the names the table prints.
const CONTENDED = "contended: 32 clients, 8 sessions, grace on";
const THREE_SERVERS = "RefreshTokens, 3 server processes";
const MEMORY_RUN = "memory: steady run";
const PGLITE_REFRESH = "RefreshTokens (PGlite)";

interface Result {
  scenario: string;
  backend: string;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  errors: number;
  /** Over the measured phase only; 100 = one core. */
  server_cpu_pct: number | null;
  /** The server's CPU per call over the measured phase, in ms (server CPU ÷ rate). */
  server_cpu_ms_per_call: number | null;
  /** PostgreSQL's processes over the measured phase; 100 = one core. */
  db_cpu_pct: number | null;
  server_rss_mb: number | null;
  /** The load threads' (or a floor's own thread's) event loops busy, summed; 100 = one thread always busy. */
  load_busy_pct: number;
  /** The whole machine (server, load, PostgreSQL, anything else); 100 per core. */
  machine_cpu_pct: number | null;
  /** For several servers: the share of the calls each one answered (from its /metrics), in %. */
  replica_share_pct?: number[];
  first_error?: string;
}

interface Server {
  readonly process: ServiceProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
}

/** utime + stime of a process, in seconds, and its resident set (Linux /proc). */
function usage(pid: number | undefined): { cpuSeconds: number; rssMb: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    return { cpuSeconds: ticks / 100, rssMb: Math.round(rssKb / 1024) };
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of every CPU of the machine (/proc/stat). */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((sum, value) => sum + value, 0);
    // idle and iowait
    return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

const cpuPerCall = (cpuPct: number | null, rps: number) => (cpuPct === null || rps === 0 ? null : Number(((cpuPct / 100) * (1000 / rps)).toFixed(2)));

/** The test PostgreSQL's postmaster, found once the bench has started it: its processes' CPU is the database's. */
let postmasterPid: number | undefined;

/** CPU seconds of the postmaster and each of its children (backends, walwriter…), by pid. */
function databaseUsage(): Map<number, number> | undefined {
  if (postmasterPid === undefined) return undefined;
  const seconds = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const pid = Number(entry);
      if (pid !== postmasterPid && Number(fields[1]) !== postmasterPid) continue;
      seconds.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return seconds;
}

/** CPU seconds spent between two readings; a process that started in between counts whole. */
const cpuSince = (before: Map<number, number>, after: Map<number, number>) =>
  [...after].reduce((sum, [pid, cpu]) => sum + cpu - (before.get(pid) ?? 0), 0);

interface Phases {
  /** Called as each worker starts its measured phase, and as each ends it. */
  readonly onMeasuring: () => void;
  readonly onMeasured: () => void;
}

function runWorker(task: WorkerTask, phases: Phases): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./load-worker-entry.mjs", import.meta.url), { workerData: task });
    worker.on("message", (message: WorkerResult | { kind: "measuring" | "measured" }) => {
      if (message.kind === "result") resolve(message);
      else if (message.kind === "measuring") phases.onMeasuring();
      else phases.onMeasured();
    });
    worker.once("error", reject);
    worker.once("exit", (code) => (code === 0 ? undefined : reject(new Error(`load worker exited with ${code}`))));
  });
}

interface MeasureOptions {
  readonly concurrency?: number;
  readonly workers?: number;
  /** Use every item once before measuring: the steady state of a working set (verified signatures cached). */
  readonly warmupEveryItem?: boolean;
  readonly verifiedTokenCacheSize?: number;
}

interface Measured {
  readonly result: Result;
  readonly items: string[];
  /** Every call's latency in ms, sorted. */
  readonly latencies: Float64Array;
}

const percentile = (sorted: Float64Array, q: number) => Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(2));
const mean = (values: readonly number[]) => Math.round(values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length));

/** One row from the rounds of a scenario: rates over their total time, percentiles over every call, CPU averaged. */
function mergeRounds(rounds: readonly Measured[]): Result {
  const first = rounds[0]?.result;
  if (first === undefined) throw new Error("no rounds to merge");
  const latencies = Float64Array.from(rounds.flatMap((round) => [...round.latencies])).sort();
  const known = (values: (number | null)[]) => (values.every((value) => value !== null) ? mean(values as number[]) : null);
  const firstError = rounds.find((round) => round.result.first_error !== undefined)?.result.first_error;
  return {
    scenario: first.scenario,
    backend: first.backend,
    rps: Math.round(latencies.length / (seconds * rounds.length)),
    p50_ms: percentile(latencies, 0.5),
    p99_ms: percentile(latencies, 0.99),
    p999_ms: percentile(latencies, 0.999),
    errors: rounds.reduce((sum, round) => sum + round.result.errors, 0),
    server_cpu_pct: known(rounds.map((round) => round.result.server_cpu_pct)),
    server_cpu_ms_per_call: cpuPerCall(known(rounds.map((round) => round.result.server_cpu_pct)), latencies.length / (seconds * rounds.length)),
    db_cpu_pct: known(rounds.map((round) => round.result.db_cpu_pct)),
    server_rss_mb: known(rounds.map((round) => round.result.server_rss_mb)),
    load_busy_pct: mean(rounds.map((round) => round.result.load_busy_pct)),
    machine_cpu_pct: known(rounds.map((round) => round.result.machine_cpu_pct)),
    ...(firstError === undefined ? {} : { first_error: firstError }),
  };
}

/**
 * Splits `items` among the workers, drives `scenario` for the fixed time,
 * and merges what they measured; the items come back as they ended (rotated
 * refresh tokens), in the same order.
 */
async function measure(
  label: string,
  backend: string,
  scenario: Scenario,
  items: string[],
  target: { servers: readonly Server[]; databaseUrl: string },
  options: MeasureOptions = {},
): Promise<Measured> {
  const count = options.workers ?? workers;
  const shares = Array.from({ length: count }, (_, w) => items.filter((_, i) => i % count === w));
  const pids = target.servers.map((server) => server.process.child.pid);
  // Read when the last worker has warmed up and when the first has finished: the measured phase only.
  let before = pids.map(usage);
  let machineBefore = machineTicks();
  let databaseBefore = databaseUsage();
  let started = performance.now();
  let after = before;
  let machineAfter = machineBefore;
  let databaseAfter = databaseBefore;
  let elapsed = 0;
  let measuring = 0;
  let measured = 0;
  const phases: Phases = {
    onMeasuring: () => {
      measuring += 1;
      if (measuring < count) return;
      before = pids.map(usage);
      machineBefore = machineTicks();
      databaseBefore = databaseUsage();
      started = performance.now();
    },
    onMeasured: () => {
      measured += 1;
      if (measured > 1) return;
      after = pids.map(usage);
      machineAfter = machineTicks();
      databaseAfter = databaseUsage();
      elapsed = (performance.now() - started) / 1000;
    },
  };
  const outcomes = await Promise.all(
    shares.map((share, w) => {
      const server = target.servers[w % Math.max(1, target.servers.length)];
      return runWorker({
        scenario,
        grpcPort: server?.grpcPort ?? 0,
        httpPort: server?.httpPort ?? 0,
        databaseUrl: target.databaseUrl,
        seconds,
        concurrency: options.concurrency ?? concurrency,
        items: share,
        warmupMs: 1_000,
        ...(options.warmupEveryItem === undefined ? {} : { warmupEveryItem: options.warmupEveryItem }),
        ...(options.verifiedTokenCacheSize === undefined ? {} : { verifiedTokenCacheSize: options.verifiedTokenCacheSize }),
      }, phases);
    }),
  );
  const latencies = Float64Array.from(outcomes.flatMap((outcome) => [...outcome.latencies])).sort();
  const cpu = before.every((b) => b !== undefined) && after.every((a) => a !== undefined) && pids.length > 0
    ? Math.round((after.reduce((sum, a) => sum + (a?.cpuSeconds ?? 0), 0) - before.reduce((sum, b) => sum + (b?.cpuSeconds ?? 0), 0)) / elapsed * 100)
    : null;
  const machine = machineBefore !== undefined && machineAfter !== undefined && machineAfter.total > machineBefore.total
    ? Math.round(((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)) * 100 * cpus().length)
    : null;
  const databaseCpu = databaseBefore === undefined || databaseAfter === undefined || elapsed === 0 ? null : Math.round((cpuSince(databaseBefore, databaseAfter) / elapsed) * 100);
  const rss = after.length > 0 && after.every((a) => a !== undefined) ? Math.max(...after.map((a) => a?.rssMb ?? 0)) : null;
  const errors = outcomes.reduce((sum, outcome) => sum + outcome.errors, 0);
  const firstError = outcomes.find((outcome) => outcome.firstError !== "")?.firstError;
  const merged = [...items];
  shares.forEach((_, w) => outcomes[w]?.items.forEach((item, k) => (merged[k * count + w] = item)));
  const result: Result = {
    scenario: label,
    backend,
    rps: Math.round(latencies.length / seconds),
    p50_ms: percentile(latencies, 0.5),
    p99_ms: percentile(latencies, 0.99),
    p999_ms: percentile(latencies, 0.999),
    errors,
    server_cpu_pct: cpu,
    server_cpu_ms_per_call: cpuPerCall(cpu, latencies.length / seconds),
    db_cpu_pct: databaseCpu,
    server_rss_mb: rss,
    load_busy_pct: Math.round(outcomes.reduce((sum, outcome) => sum + outcome.busy, 0) * 100),
    machine_cpu_pct: machine,
    ...(firstError === undefined ? {} : { first_error: firstError }),
  };
  console.log(`${backend.padEnd(8)} ${label.padEnd(52)} ${String(result.rps).padStart(7)}/s  p50 ${result.p50_ms} ms  p99 ${result.p99_ms} ms  errors ${errors}`);
  return { result, items: merged, latencies };
}

/** The parent of a backend is the postmaster. */
async function findPostmaster(url: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const backend = Number((await client.query("SELECT pg_backend_pid() AS pid")).rows[0]?.pid);
    const stat = readFileSync(`/proc/${backend}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  } finally {
    await client.end();
  }
}

async function createDatabase(postgres: RunningPostgres, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  return postgres.url.replace(/\/postgres$/, `/${name}`);
}

async function sessionCount(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query("SELECT count(*)::int AS n FROM sessions")).rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const nodeArgs = [...serverNodeArgs, ...(profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${path.resolve(profileDir)}`])];
  const process = runCli("serve", { DB_POOL_SIZE: "16", ...serverEnv, ...env }, { compiled: true, nodeArgs });
  const { grpcPort, httpPort } = await process.serving;
  return { process, grpcPort, httpPort };
}

async function stopServer(server: Server): Promise<void> {
  server.process.child.kill("SIGTERM");
  await server.process.exited;
}

async function main() {
  execFileSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
  const postgres = await startEmbeddedPostgres();
  postmasterPid = await findPostmaster(postgres.url);
  const scratch = await mkdtemp(path.join(tmpdir(), "sa-bench-"));
  const kekFile = path.join(scratch, "kek");
  await writeFile(kekFile, randomBytes(32).toString("base64"), { mode: 0o600 });
  const results: Result[] = [];
  const memory: Memory = { sessions: MEMORY_SESSIONS, samples_mb: [], heap_total_mb: [] };
  try {
    // PostgreSQL, EdDSA: floors and the RPCs.
    const url = await createDatabase(postgres, "bench_eddsa");
    let server = await startServer({ DATABASE_URL: url, KEK_FILE: kekFile });
    const target = { servers: [server], databaseUrl: url };
    let seeded: SeededSessions = await seedSessions(url, kekFile, POOL, { usersEvery: 5 });
    const take = async (label: string, scenario: Scenario, items: string[], options?: MeasureOptions) => {
      if (!selected(label)) return items;
      const { result, items: after } = await measure(label, "postgres", scenario, items, target, options);
      results.push(result);
      return after;
    };
    // The scenarios the targets compare run in alternating rounds, merged into one row each,
    // so a change in the machine's other load reaches both sides of a ratio alike.
    const rounded = new Map<string, Measured[]>();
    const round = async (label: string, scenario: Scenario, items: string[], options?: MeasureOptions, on: typeof target = target) => {
      if (!selected(label)) return items;
      const measured = await measure(label, "postgres", scenario, items, on, options);
      rounded.set(label, [...(rounded.get(label) ?? []), measured]);
      return measured.items;
    };
    let fresh = (await seedSessions(url, kekFile, POOL)).refreshTokens;
    // The rotation floors run in one thread, as one server process runs the RPC, with as
    // many rotations in flight as the RPC scenarios have calls in flight over all workers.
    const asOneProcess = { workers: 1, concurrency: concurrency * workers };
    const [verifySteady] = verifyLabels("EdDSA") as [string];
    // The same service with DB_PREPARED_STATEMENTS=on, on the same database, for the rows that compare both ways.
    const prepared = { servers: [await startServer({ DATABASE_URL: url, KEK_FILE: kekFile, DB_PREPARED_STATEMENTS: "on" })], databaseUrl: url };
    let preparedTokens = (await seedSessions(url, kekFile, POOL)).refreshTokens;
    const logins = (r: number, tag: string) => Array.from({ length: POOL }, (_, i) => `bench-login-${tag}-${r}-${i}`);
    for (let r = 0; r < rounds; r += 1) {
      await round(NO_OP, "health", ["-"]);
      fresh = await round(RAW_FLOOR, "raw-rotation", fresh, asOneProcess);
      fresh = await round(SQL_FLOOR, "sql-rotation", fresh, asOneProcess);
      seeded = { ...seeded, refreshTokens: await round(REFRESH, "refresh", seeded.refreshTokens) };
      preparedTokens = await round(REFRESH_PREPARED, "refresh", preparedTokens, undefined, prepared);
      await round(CREATE, "create", logins(r, "plain"));
      await round(CREATE_PREPARED, "create", logins(r, "prepared"), undefined, prepared);
      await round(verifySteady, "verify", seeded.accessTokens, { warmupEveryItem: true });
      await round(CHECK, "check", seeded.accessTokens, { warmupEveryItem: true });
    }
    for (const other of prepared.servers) await stopServer(other);
    for (const measured of rounded.values()) results.push(mergeRounds(measured));
    results.push(...(await verifyRows("EdDSA", seeded.accessTokens, server, url, kekFile, { skipSteady: true })));
    await take("ListSessions", "list", [...new Set(seeded.userIds)]);
    await take("TouchSession (coalesced)", "touch", seeded.sessionIds);
    if (selected(CONTENDED)) {
      const contended = (await seedSessions(url, kekFile, 8)).refreshTokens;
      await take(CONTENDED, "refresh", contended, { concurrency: 16, workers: 2 });
    }

    // Three server processes on the one database (2 cores: reported, not a target).
    if (selected(THREE_SERVERS)) {
      const extra = [await startServer({ DATABASE_URL: url, KEK_FILE: kekFile }), await startServer({ DATABASE_URL: url, KEK_FILE: kekFile })];
      const three = { servers: [server, ...extra], databaseUrl: url };
      const servedBefore = await Promise.all(three.servers.map(refreshesServed));
      const { result: threeResult } = await measure(THREE_SERVERS, "postgres", "refresh", (await seedSessions(url, kekFile, POOL)).refreshTokens, three, { workers: 3 });
      const served = (await Promise.all(three.servers.map(refreshesServed))).map((count, i) => count - (servedBefore[i] ?? 0));
      const total = served.reduce((sum, count) => sum + count, 0);
      results.push({ ...threeResult, replica_share_pct: served.map((count) => (total === 0 ? 0 : Math.round((count / total) * 100))) });
      for (const other of extra) await stopServer(other);
    }

    // Memory: 100,000 sessions in the database, then a steady refresh + verify load.
    await stopServer(server);
    if (selected(MEMORY_RUN)) {
      const many = await seedSessions(url, kekFile, MEMORY_SESSIONS - (await sessionCount(url)), { signFirst: POOL });
      server = await startServer({ DATABASE_URL: url, KEK_FILE: kekFile });
      target.servers.splice(0, 1, server);
      const sampler = setInterval(() => {
        const now = usage(server.process.child.pid);
        if (now !== undefined) memory.samples_mb.push(now.rssMb);
        void heapTotalMb(server).then((mb) => memory.heap_total_mb.push(mb));
      }, 5_000);
      const steadyEnd = Date.now() + steadySeconds * 1000;
      let refreshPool = many.refreshTokens.slice(0, POOL);
      while (Date.now() < steadyEnd) {
        const [refreshed] = await Promise.all([
          measure("steady: RefreshTokens", "postgres", "refresh", refreshPool, target, { workers: 1 }),
          measure("steady: VerifyAccessToken", "postgres", "verify", many.accessTokens.slice(0, POOL), target, { workers: 1 }),
        ]);
        refreshPool = refreshed.items;
      }
      clearInterval(sampler);
      await stopServer(server);
    }

    // The other signing algorithms: a database each.
    for (const algorithm of ["ES256", "RS256"]) {
      if (!verifyLabels(algorithm).some(selected)) continue;
      const algorithmUrl = await createDatabase(postgres, `bench_${algorithm.toLowerCase()}`);
      const algorithmServer = await startServer({ DATABASE_URL: algorithmUrl, KEK_FILE: kekFile, SIGNING_ALGORITHM: algorithm });
      const tokens = (await seedSessions(algorithmUrl, kekFile, POOL)).accessTokens;
      results.push(...(await verifyRows(algorithm, tokens, algorithmServer, algorithmUrl, kekFile)));
      await stopServer(algorithmServer);
    }

    // PGlite: RefreshTokens on the embedded default, seeded while no server holds the folder.
    if (selected(PGLITE_REFRESH)) {
      const dataDir = path.join(scratch, "pglite");
      await stopServer(await startServer({ DATA_DIR: dataDir }));
      const pgliteTokens = await seedPglite(dataDir);
      const pgliteServer = await startServer({ DATA_DIR: dataDir });
      results.push((await measure(PGLITE_REFRESH, "pglite", "refresh", pgliteTokens, { servers: [pgliteServer], databaseUrl: "" })).result);
      await stopServer(pgliteServer);
    }

    const ratios = report(results, memory);
    await mkdir("bench/results", { recursive: true });
    await writeFile(
      "bench/results/latest.json",
      `${JSON.stringify({ date: new Date().toISOString(), seconds, rounds, concurrency, workers, pool: POOL, ratios, results, memory }, null, 2)}\n`,
    );
  } finally {
    await postgres.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

const verifyLabels = (algorithm: string) => [
  `VerifyAccessToken (${algorithm}), steady: signatures cached`,
  `VerifyAccessToken (${algorithm}), every signature checked`,
  `floor: jose verify (${algorithm}), load generator`,
  `embedded verifier (${algorithm}), steady: signatures cached`,
  `embedded verifier (${algorithm}), every signature checked`,
];

/**
 * Verification of one algorithm's tokens, each way: the steady state of a
 * working set (every token seen once before measuring, so its signature is
 * cached and only time and revocation are checked), and with every signature
 * checked (the cache off: a server started with VERIFIED_TOKEN_CACHE_SIZE=0).
 */
async function verifyRows(
  algorithm: string,
  tokens: string[],
  server: Server,
  databaseUrl: string,
  kekFile: string,
  { skipSteady = false }: { skipSteady?: boolean } = {},
): Promise<Result[]> {
  const [cached, everyCall, jose, embeddedCached, embeddedEveryCall] = verifyLabels(algorithm) as [string, string, string, string, string];
  const target = { servers: [server], databaseUrl };
  const rows: Result[] = [];
  const row = async (label: string, scenario: Scenario, on: typeof target, options: MeasureOptions = {}) => {
    if (selected(label)) rows.push((await measure(label, "postgres", scenario, tokens, on, options)).result);
  };
  if (!skipSteady) await row(cached, "verify", target, { warmupEveryItem: true });
  if (selected(everyCall)) {
    const uncached = await startServer({ DATABASE_URL: databaseUrl, KEK_FILE: kekFile, SIGNING_ALGORITHM: algorithm, VERIFIED_TOKEN_CACHE_SIZE: "0" });
    await row(everyCall, "verify", { servers: [uncached], databaseUrl });
    await stopServer(uncached);
  }
  await row(jose, "jose", target);
  await row(embeddedCached, "embedded", target, { warmupEveryItem: true });
  await row(embeddedEveryCall, "embedded", target, { verifiedTokenCacheSize: 0 });
  return rows;
}

/** PGlite has no network port: the bench opens the folder itself (no server running) to seed it. */
async function seedPglite(dataDir: string): Promise<string[]> {
  const config = loadConfig({ DATA_DIR: dataDir });
  const database = await openDatabase(config.database);
  try {
    await migrate(database);
    const { issueRefreshToken } = await import("../src/crypto/refresh-token.js");
    const tokens = Array.from({ length: POOL }, () => issueRefreshToken());
    await database.withScriptConnection(async (connection) => {
      const ids = tokens.map(() => crypto.randomUUID());
      await connection.query("INSERT INTO users (user_id) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING", [ids.map((_, i) => `bench-user-${i}`)]);
      await connection.query(
        `INSERT INTO sessions (id, user_id, auth_time, created_by, token_version, global_version, expires_at)
         SELECT unnest($1::uuid[]), unnest($2::text[]), now(), 'anonymous', 0, 0, now() + interval '90 days'`,
        [ids, ids.map((_, i) => `bench-user-${i}`)],
      );
      await connection.query(
        `INSERT INTO refresh_tokens (id, session_id, token_hash, token_version, global_version, expires_at)
         SELECT unnest($1::uuid[]), unnest($2::uuid[]), unnest($3::bytea[]), 0, 0, now() + interval '14 days'`,
        [ids.map(() => crypto.randomUUID()), ids, tokens.map((token) => token.hash)],
      );
    });
    return tokens.map((token) => token.token);
  } finally {
    await database.close();
  }
}

interface Memory {
  readonly sessions: number;
  /** Server RSS every 5 s of the steady run. */
  readonly samples_mb: number[];
  /** The V8 heap's size at the same moments (from /metrics): what of the RSS is JavaScript's. */
  readonly heap_total_mb: number[];
}

/** RefreshTokens this server answered with OK so far, from its /metrics. */
async function refreshesServed(server: Server): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  return Number(/^grpc_server_handled_total\{grpc_method="\/sessionauthority\.v1\.TokenService\/RefreshTokens",grpc_code="OK"\} (\S+)/m.exec(text)?.[1] ?? 0);
}

async function heapTotalMb(server: Server): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  return Math.round(Number(/^nodejs_heap_size_total_bytes (\S+)/m.exec(text)?.[1] ?? 0) / 1024 / 1024);
}

/** Prints every ratio the targets are read from, and returns them for latest.json. */
function report(results: Result[], memory: Memory): Record<string, number | null> {
  console.table(results.map(({ first_error: _, ...row }) => row));
  const rate = (scenario: string) => results.find((r) => r.backend === "postgres" && r.scenario === scenario)?.rps ?? 0;
  const noop = rate(NO_OP);
  const ratios: Record<string, number | null> = {};
  const ratio = (name: string, a: number, b: number) => {
    const value = b === 0 || a === 0 ? null : Number((a / b).toFixed(3));
    ratios[name] = value;
    return value === null ? "n/a" : value.toFixed(value < 0.1 ? 3 : 2);
  };
  const refresh = rate(REFRESH);
  console.log(`RefreshTokens / raw pg rotation floor: ${ratio("refresh_per_raw_pg_floor", refresh, rate(RAW_FLOOR))} (target ≥ 0.35)`);
  console.log(`RefreshTokens / one-statement SQL floor (the limit): ${ratio("refresh_per_sql_floor", refresh, rate(SQL_FLOOR))}`);
  console.log(`RefreshTokens with DB_PREPARED_STATEMENTS=on / raw pg rotation floor: ${ratio("refresh_prepared_per_raw_pg_floor", rate(REFRESH_PREPARED), rate(RAW_FLOOR))}`);
  console.log(`CreateSession / no-op floor: ${ratio("create_per_noop", rate(CREATE), noop)} (target ≥ 2 × the ratio before issue 19; docs/scaling.md)`);
  console.log(`CreateSession with DB_PREPARED_STATEMENTS=on / no-op floor: ${ratio("create_prepared_per_noop", rate(CREATE_PREPARED), noop)}`);
  for (const [name, label] of [["refresh", REFRESH], ["refresh_prepared", REFRESH_PREPARED], ["create", CREATE], ["create_prepared", CREATE_PREPARED]] as const) {
    const cpu = results.find((r) => r.scenario === label)?.server_cpu_ms_per_call ?? null;
    ratios[`${name}_server_cpu_ms_per_call`] = cpu;
    console.log(`${label}: ${cpu ?? "n/a"} ms of server CPU per call`);
  }
  for (const algorithm of ["EdDSA", "ES256", "RS256"]) {
    const [cached, everyCall, jose, embeddedCached, embeddedEveryCall] = verifyLabels(algorithm) as [string, string, string, string, string];
    const floor = Math.min(rate(jose), noop);
    const target = algorithm === "EdDSA" ? " (target ≥ 0.80)" : "";
    const key = algorithm.toLowerCase();
    console.log(`VerifyAccessToken (${algorithm}) / min(jose, no-op): ${ratio(`verify_${key}_steady_per_floor`, rate(cached), floor)} steady, ${ratio(`verify_${key}_every_signature_per_floor`, rate(everyCall), floor)} with every signature checked${target}`);
    const perThread = (label: string) => Math.round(rate(label) / workers);
    console.log(`embedded verifier (${algorithm}) per load thread: ${perThread(embeddedCached)}/s steady, ${perThread(embeddedEveryCall)}/s with every signature checked${algorithm === "EdDSA" ? " (target ≥ 15,000/s per core)" : ""}`);
  }
  const [verifySteadyLabel] = verifyLabels("EdDSA") as [string];
  console.log(`Envoy Check / VerifyAccessToken (EdDSA, steady, same run): ${ratio("check_per_verify_eddsa_steady", rate(CHECK), rate(verifySteadyLabel))} (target ≥ 0.80)`);
  for (const r of results) {
    if (r.p50_ms > 0 && r.p99_ms > 10 * r.p50_ms) console.log(`p99 > 10 × p50: ${r.backend} ${r.scenario} (${r.p99_ms} vs ${r.p50_ms} ms)`);
    if (r.errors > 0) console.log(`errors: ${r.backend} ${r.scenario}: ${r.errors} (${r.first_error ?? ""})`);
  }
  const samples = memory.samples_mb;
  if (samples.length > 0) {
    const low = Math.min(...samples);
    const high = Math.max(...samples);
    console.log(`memory samples every 5 s: RSS ${samples.join(" ")} MB; V8 heap ${memory.heap_total_mb.join(" ")} MB`);
    console.log(`memory with ${memory.sessions} sessions: RSS ${samples[0]}–${samples.at(-1)} MB over the steady run (min ${low}, max ${high}; spread ${((high / low - 1) * 100).toFixed(1)} %; target ≤ 200 MB, ±10 %)`);
  }
  const three = results.find((r) => r.scenario === THREE_SERVERS);
  if (three?.replica_share_pct !== undefined) {
    console.log(`${THREE_SERVERS}: each served ${three.replica_share_pct.join(" / ")} % of the refreshes; PostgreSQL used ${three.db_cpu_pct ?? "n/a"} % CPU (100 = one core)`);
  }
  return ratios;
}

await main();
