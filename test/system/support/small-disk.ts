import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, statfs, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Why a small disk of the test's own cannot be made here, or null when it can. */
export function smallDiskUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (to mount a small tmpfs)';
  if (process.platform !== 'linux') return 'needs Linux (tmpfs)';
  return null;
}

export interface SmallDisk {
  path: string;
  /** Bytes still free. */
  free(): Promise<number>;
  /** Writes a filler file until the disk is full; returns its size in bytes. */
  fill(): Promise<number>;
  /** Removes the filler. */
  drain(): Promise<void>;
  /** Unmounts and removes the mount point (also after a failed test). */
  destroy(): Promise<void>;
}

/** A tmpfs of `sizeMb` mounted on a fresh folder: a disk the test can fill without touching the machine's. */
export async function mountSmallDisk(sizeMb: number): Promise<SmallDisk> {
  const path = await mkdtemp(join(tmpdir(), 'mh-disk-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', path]);
  const filler = join(path, 'filler');
  const free = async () => {
    const s = await statfs(path);
    return s.bavail * s.bsize;
  };
  return {
    path,
    free,
    fill: async () => {
      const file = await open(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024, 1);
      let written = 0;
      try {
        for (;;) {
          const { bytesWritten } = await file.write(chunk);
          written += bytesWritten;
          if (bytesWritten < chunk.length) break;
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        await file.close();
      }
      return written;
    },
    drain: () => unlink(filler).catch(() => undefined),
    destroy: async () => {
      // A process still holding files open keeps the mount busy: lazy unmount detaches it anyway.
      await run('umount', [path]).catch(() => run('umount', ['-l', path]));
      await rm(path, { recursive: true, force: true });
    },
  };
}
