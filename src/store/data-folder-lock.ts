import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

export class DataFolderInUseError extends Error {
  override readonly name = "DataFolderInUseError";
}

const LOCK_FILE = "session-authority.lock";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else, which still means in use.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * PGlite is one process's database: a second process on the same folder would
 * corrupt it. The lock file holds the owner's pid; a lock whose process is
 * gone (a crash, a killed container, whose next run may even reuse the pid)
 * is taken over.
 */
export function lockDataFolder(dataDir: string): () => void {
  const file = path.join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number.parseInt(readFileSync(file, "utf8"), 10);
    if (Number.isInteger(owner) && owner !== process.pid && alive(owner)) {
      throw new DataFolderInUseError(
        `the data folder ${dataDir} is in use by process ${owner} (a running server?). ` +
          "One process per embedded data folder: stop it first, call the running server's RPCs instead, or use DATABASE_URL to run several processes.",
      );
    }
    rmSync(file, { force: true });
  }
  throw new DataFolderInUseError(`could not lock the data folder ${dataDir}: another process is taking it at the same moment`);
}
