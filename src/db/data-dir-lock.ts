/**
 * One process at a time on an embedded data directory. PGlite keeps the database in files that
 * it assumes are its own: a second process on them (a CLI command next to `serve`) crashed with
 * `RuntimeError: Aborted()` or, worse, wrote beside the server. So whoever opens the directory
 * (serve, worker, migrate, every CLI command) first creates `marketing-hub.lock` in it, holding
 * its pid, and removes it when it closes the database or exits.
 *
 * A pid file and not a time-based lock (proper-lockfile keeps a lock alive by touching it on a
 * timer and takes it for stale after 10 s without a touch): a lock left by a process killed with
 * -9 is found stale at once because its pid is gone, and a holder whose event loop PGlite keeps
 * busy for seconds is never taken for dead. A pid that the system gave to a new process is told
 * apart by the start time of the process (Linux, from /proc).
 */
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const LOCK_FILE = 'marketing-hub.lock';

interface Holder {
  pid: number;
  /** The holder's start time in clock ticks since boot (Linux), to tell a reused pid apart. */
  start: number | null;
  /** What it runs: "serve", "worker", "tenants create", ... */
  command: string;
}

/** The data directory is held by another live process; its message is the one sentence to show. */
export class DataDirInUseError extends Error {
  readonly code = 'data_dir_in_use';
  constructor(
    readonly dir: string,
    readonly holder: Holder,
  ) {
    super(`The data directory ${dir} is in use by ${describe(holder)} (pid ${holder.pid}); stop it or use the HTTP API, or set DATABASE_URL to a PostgreSQL database, which many processes can share.`);
    this.name = 'DataDirInUseError';
  }
}

function describe(holder: Holder): string {
  if (holder.command === 'serve') return 'a running server';
  if (holder.command === 'worker') return 'a running worker';
  return holder.command ? `a running "marketing-hub ${holder.command}"` : 'another running marketing-hub process';
}

/** Directories this process holds, so a second open in the same process is refused too. */
const held = new Set<string>();

export interface DataDirLock {
  release(): void;
}

/**
 * Takes the lock of `dir` (created if missing) or throws DataDirInUseError. A lock whose holder
 * is gone (killed, crashed) is removed and taken over.
 */
export function lockDataDir(dir: string, command = currentCommand()): DataDirLock {
  const root = resolve(dir);
  const path = join(root, LOCK_FILE);
  mkdirSync(root, { recursive: true });
  const mine: Holder = { pid: process.pid, start: processStart(process.pid), command };
  const text = JSON.stringify(mine);
  if (held.has(path)) throw new DataDirInUseError(root, mine);
  // A few rounds: each either takes the lock, finds a live holder, or removes a dead one's lock.
  for (let round = 0; round < 5; round++) {
    if (createExclusive(path, text)) {
      held.add(path);
      const release = () => {
        process.off('exit', release);
        if (!held.delete(path)) return;
        // Only our own lock: never one a later process took after ours was judged stale.
        if (readText(path) === text) unlinkQuietly(path);
      };
      process.on('exit', release);
      return { release };
    }
    const current = readText(path);
    if (current === null) continue; // removed meanwhile: try again
    const holder = parseHolder(current);
    if (holder && isAlive(holder)) throw new DataDirInUseError(root, holder);
    removeStale(path, current);
  }
  throw new Error(`Could not take the lock ${path}: it keeps changing; is another process starting on this data directory?`);
}

/**
 * Creates `path` with its whole content or not at all: written to a file of our own first, then
 * linked into place (link fails if the name exists), so a reader never sees a half-written lock.
 */
function createExclusive(path: string, text: string): boolean {
  const staging = `${path}.${process.pid}.tmp`;
  const fd = openSync(staging, 'w');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(staging, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkQuietly(staging);
  }
}

/**
 * Removes a lock judged stale, unless another process replaced it after we read it: the file is
 * first moved aside (atomic), and put back if what was moved is not what was judged.
 */
function removeStale(path: string, judged: string): void {
  const aside = `${path}.${process.pid}.stale`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (readText(aside) !== judged) {
    try {
      linkSync(aside, path);
    } catch {
      // The place was taken again meanwhile: that process holds the lock now.
    }
  }
  unlinkQuietly(aside);
}

function parseHolder(text: string): Holder | null {
  try {
    const v = JSON.parse(text) as Partial<Holder>;
    if (!Number.isInteger(v.pid) || (v.pid as number) <= 0) return null;
    return { pid: v.pid as number, start: typeof v.start === 'number' ? v.start : null, command: typeof v.command === 'string' ? v.command : '' };
  } catch {
    // Not written by us (or by a version with another format): no pid to check, so stale.
    return null;
  }
}

/** Whether the lock's holder still runs: its pid exists and, where known, started when it did. */
export function isAlive(holder: Holder): boolean {
  // Our own pid on a lock this process does not hold: a previous process with our pid (a
  // container restarted with the same pid numbering) died without removing it.
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (holder.start === null) return true;
  const start = processStart(holder.pid);
  return start === null || start === holder.start;
}

/** Start time of a process in clock ticks since boot, from /proc (Linux); null elsewhere. */
function processStart(pid: number): number | null {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // Fields after the command name (which may hold spaces): state is field 3, starttime field 22.
  const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  return Number.isFinite(start) ? start : null;
}

/** The CLI words of this process ("serve", "tenants create"), without options and their values. */
function currentCommand(): string {
  const words: string[] = [];
  for (const arg of process.argv.slice(2)) {
    if (arg.startsWith('-')) break;
    words.push(arg);
  }
  return words.join(' ');
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
