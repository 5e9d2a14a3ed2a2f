import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirInUseError, LOCK_FILE, lockDataDir } from './data-dir-lock.js';

describe('data directory lock', () => {
  let dir: string;
  const lockPath = () => join(dir, LOCK_FILE);
  const holderPid = () => (JSON.parse(readFileSync(lockPath(), 'utf8')) as { pid: number }).pid;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mh-lockunit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is held once per process and removed on release', () => {
    const lock = lockDataDir(dir, 'serve');
    expect(holderPid()).toBe(process.pid);
    expect(() => lockDataDir(dir, 'migrate')).toThrow(DataDirInUseError);
    lock.release();
    expect(existsSync(lockPath())).toBe(false);
    lockDataDir(dir, 'migrate').release();
  });

  it('refuses while a live process holds it, naming the directory, what runs and its pid', () => {
    writeFileSync(lockPath(), JSON.stringify({ pid: process.ppid, start: null, command: 'worker' }));
    let refusal: unknown;
    try {
      lockDataDir(dir, 'tenants create');
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(DataDirInUseError);
    expect((refusal as Error).message).toBe(
      `The data directory ${dir} is in use by a running worker (pid ${process.ppid}); stop it or use the HTTP API, or set DATABASE_URL to a PostgreSQL database, which many processes can share.`,
    );
    expect(holderPid()).toBe(process.ppid);
  });

  it('takes over the lock of a process that died', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(lockPath(), JSON.stringify({ pid: Number(dead), start: null, command: 'serve' }));
    const lock = lockDataDir(dir, 'serve');
    expect(holderPid()).toBe(process.pid);
    lock.release();
  });

  it.runIf(existsSync('/proc/self/stat'))('takes over a lock whose pid now belongs to a process started later', () => {
    writeFileSync(lockPath(), JSON.stringify({ pid: process.ppid, start: 1, command: 'serve' }));
    lockDataDir(dir, 'serve').release();
  });

  it('takes over a lock it cannot read (no pid to check)', () => {
    writeFileSync(lockPath(), 'not json');
    lockDataDir(dir, 'serve').release();
  });

  it('release leaves a lock that another process took after judging ours stale', () => {
    const lock = lockDataDir(dir, 'serve');
    const theirs = JSON.stringify({ pid: process.ppid, start: null, command: 'serve' });
    writeFileSync(lockPath(), theirs);
    lock.release();
    expect(readFileSync(lockPath(), 'utf8')).toBe(theirs);
  });
});
