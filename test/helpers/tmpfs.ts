/**
 * A small real tmpfs for storage-fault tests: the kernel answers ENOSPC when it is full and
 * EROFS when it is remounted read-only, exactly as a real data disk would. Needs root
 * (mount(8)); `tmpfsUnavailable()` says why not, for a skip.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Tmpfs {
  /** Where it is mounted. */
  dir: string;
  /** Bytes the filesystem can still take. */
  freeBytes(): Promise<number>;
  /** Fills it with a filler file until only `leaveBytes` (rounded to pages) stay free. */
  fill(leaveBytes?: number): Promise<void>;
  /** Removes the filler: the space is back. */
  release(): Promise<void>;
  readOnly(): Promise<void>;
  readWrite(): Promise<void>;
  unmount(): Promise<void>;
}

const FILLER = '.filler';

/** Why a tmpfs cannot be mounted here (not root, no mount), or undefined when it can. */
export async function tmpfsUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  try {
    const fs = await mountTmpfs(1 << 20);
    await fs.unmount();
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Mounts a tmpfs of `sizeBytes` on a new temporary directory. */
export async function mountTmpfs(sizeBytes: number): Promise<Tmpfs> {
  const dir = await mkdtemp(join(tmpdir(), 'framecast-tmpfs-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir]);
  const filler = join(dir, FILLER);
  const freeBytes = async () => {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  };
  let mounted = true;
  return {
    dir,
    freeBytes,
    async fill(leaveBytes = 0) {
      await rm(filler, { force: true });
      const size = (await freeBytes()) - leaveBytes;
      if (size > 0) await writeFile(filler, Buffer.alloc(size));
    },
    release: () => rm(filler, { force: true }),
    async readOnly() {
      await run('mount', ['-o', 'remount,ro', dir]);
    },
    async readWrite() {
      await run('mount', ['-o', 'remount,rw', dir]);
    },
    async unmount() {
      if (!mounted) return;
      mounted = false;
      // A process that still has a file open there would make a plain umount fail.
      await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A directory on the tmpfs (made if missing). */
export async function dirOn(fs: Tmpfs, name: string): Promise<string> {
  const dir = join(fs.dir, name);
  await mkdir(dir, { recursive: true });
  return dir;
}
