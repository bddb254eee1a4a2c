import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface FreshDatabase {
  url: string;
  drop(): Promise<void>;
}

// One database per suite/worker lets tests run in parallel against one server
// without seeing each other's rows or migrations.
export async function createFreshDatabase(adminUrl: string): Promise<FreshDatabase> {
  const name = `sa_test_${randomBytes(8).toString('hex')}`;
  await runAsAdmin(adminUrl, (client) =>
    client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`),
  );

  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      runAsAdmin(adminUrl, (client) =>
        // FORCE terminates sessions still open on it (a leaked pool must not
        // make teardown fail); needs PostgreSQL 13+.
        client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`),
      ).then(() => undefined),
  };
}

async function runAsAdmin<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
