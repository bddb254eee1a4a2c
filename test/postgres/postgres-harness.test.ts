import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { createFreshDatabase } from '../support/fresh-database.js';
import { query } from '../support/sql.js';


describe('PostgreSQL test harness', () => {
  const adminUrl = inject('postgresAdminUrl');

  it('creates a fresh database that reports the expected server version', async () => {
    const database = await createFreshDatabase(adminUrl);
    try {
      const [row] = await query<{ version: string; db: string }>(
        database.url,
        'select version() as version, current_database() as db',
      );
      expect(row?.db).toMatch(/^sa_test_[0-9a-f]{16}$/);
      // An external server may be any version; the embedded one is 18.
      const expected = process.env['TEST_DATABASE_URL'] ? /^PostgreSQL \d+/ : /^PostgreSQL 18\./;
      expect(row?.version).toMatch(expected);
    } finally {
      await database.drop();
    }
  });

  it('drops the database even while a connection to it is still open', async () => {
    const database = await createFreshDatabase(adminUrl);
    const name = new URL(database.url).pathname.slice(1);
    const leaked = new pg.Client({ connectionString: database.url });
    // The server terminates this session during the drop, and pg reports that
    // more than once; without a lasting listener it is an unhandled error.
    const terminated = new Promise<Error>((resolve) => leaked.on('error', resolve));
    await leaked.connect();

    await database.drop();

    await expect(terminated).resolves.toMatchObject({ code: '57P01' });
    await leaked.end();
    const rows = await query<{ datname: string }>(
      adminUrl,
      'select datname from pg_database where datname = $1',
      [name],
    );
    expect(rows).toEqual([]);
  });

  it('gives every call its own database', async () => {
    const [a, b] = await Promise.all([createFreshDatabase(adminUrl), createFreshDatabase(adminUrl)]);
    try {
      expect(a.url).not.toBe(b.url);
    } finally {
      await Promise.all([a.drop(), b.drop()]);
    }
  });
});
