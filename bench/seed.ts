import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { loadConfig } from "../src/config.js";
import { openKeyEncryption } from "../src/crypto/kek-files.js";
import { issueRefreshToken } from "../src/crypto/refresh-token.js";
import { systemClock } from "../src/domain/context.js";
import { KeyRing } from "../src/domain/signing-keys.js";
import { TokenIssuer } from "../src/domain/token-issuer.js";
import { createLogger } from "../src/logger.js";
import { openDatabase } from "../src/store/database.js";
import { Store } from "../src/store/store.js";

export interface SeededSessions {
  readonly userIds: string[];
  readonly sessionIds: string[];
  readonly refreshTokens: string[];
  readonly accessTokens: string[];
}

/**
 * Puts `count` live sessions, each with a refresh token, straight into the
 * database a running server uses (thousands of logins through the RPC would
 * take minutes), and signs their access tokens with that server's own key,
 * read through the same key ring and KEK: the tokens are exactly what the
 * server would have issued. Every token is distinct, so no scenario runs
 * on one cached token.
 */
export async function seedSessions(
  url: string,
  kekFile: string,
  count: number,
  options: { caller?: string; usersEvery?: number; signFirst?: number } = {},
): Promise<SeededSessions> {
  const caller = options.caller ?? "anonymous";
  const usersEvery = options.usersEvery ?? 1;
  const sessionIds = Array.from({ length: count }, () => randomUUID());
  const userIds = sessionIds.map((_, i) => `bench-user-${Math.floor(i / usersEvery)}`);
  const refresh = sessionIds.map(() => issueRefreshToken());
  const refreshIds = sessionIds.map(() => randomUUID());
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let from = 0; from < count; from += 5_000) {
      const to = Math.min(count, from + 5_000);
      await client.query("INSERT INTO users (user_id) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING", [userIds.slice(from, to)]);
      await client.query(
        `INSERT INTO sessions (id, user_id, auth_time, created_by, token_version, global_version, expires_at, ip_address, user_agent)
         SELECT unnest($1::uuid[]), unnest($2::text[]), now(), $3, 0, 0, now() + interval '90 days', '203.0.113.9', 'bench'`,
        [sessionIds.slice(from, to), userIds.slice(from, to), caller],
      );
      await client.query(
        `INSERT INTO refresh_tokens (id, session_id, token_hash, token_version, global_version, expires_at)
         SELECT unnest($1::uuid[]), unnest($2::uuid[]), unnest($3::bytea[]), 0, 0, now() + interval '14 days'`,
        [refreshIds.slice(from, to), sessionIds.slice(from, to), refresh.slice(from, to).map((token) => token.hash)],
      );
    }
  } finally {
    await client.end();
  }
  const config = loadConfig({ DATABASE_URL: url, KEK_FILE: kekFile });
  const database = await openDatabase({ ...config.database, poolSize: 8 });
  try {
    const store = new Store(database);
    const keyRing = new KeyRing(store, openKeyEncryption(config, createLogger("silent")), systemClock);
    await keyRing.refresh();
    const issuer = new TokenIssuer(keyRing, config.tokens, systemClock, randomBytes);
    const signed = Math.min(count, options.signFirst ?? count);
    const accessTokens: string[] = new Array(signed);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < signed) {
          const i = next++;
          const session = await store.read(({ sessions }) => sessions.findById(sessionIds[i] as string));
          if (session === null) throw new Error("seeded session vanished");
          accessTokens[i] = (await issuer.accessToken(session, config.tokens.accessTtlMs, refreshIds[i] as string)).token;
        }
      }),
    );
    return { userIds, sessionIds, refreshTokens: refresh.map((token) => token.token), accessTokens };
  } finally {
    await database.close();
  }
}
