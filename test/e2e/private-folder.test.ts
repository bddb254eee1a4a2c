import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');

// Issue 19: as root, from a clone inside a folder of mode 0700 (`mktemp -d`,
// /root), the test PostgreSQL used to fail with `spawn …/initdb EACCES`: the
// `postgres` user it runs as could not reach the binaries in node_modules.
describe.skipIf(process.getuid?.() !== 0)('a clone in a folder only root may enter', () => {
  it('starts the test PostgreSQL, as `npm test` and `npm run bench` do', async () => {
    const closed = await mkdtemp(path.join(tmpdir(), 'sa-private-'));
    try {
      expect((await stat(closed)).mode & 0o777).toBe(0o700);
      const clone = path.join(closed, 'session-authority');
      // Hard links where the file system allows (the same files, at once); a copy otherwise.
      await run('cp', ['-al', repo, clone]).catch(() => run('cp', ['-a', repo, clone]));
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/fixtures/start-embedded-postgres.ts'], { cwd: clone, timeout: 120_000 });
      expect(stdout).toMatch(/embedded PostgreSQL 18\.\d+ answered/);
    } finally {
      await rm(closed, { recursive: true, force: true });
    }
  }, 180_000);
});
