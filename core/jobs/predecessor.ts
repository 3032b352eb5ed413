/**
 * A media process that dies (OOM, SIGKILL, power loss) leaves its running jobs leased to
 * it, and other workers wait out the lease (`jobs.lease_s`, 30 s by default) before taking
 * them again. The next media process of the same node knows better: each one records its
 * lease-owner name in `data_dir/run/media.owner`, and at start-up a process whose
 * predecessor on this host is gone hands back that predecessor's leases at once.
 *
 * Only an exact owner name (host:pid:random) is released, only when its host is this one
 * and its pid is no longer alive, so a live worker's jobs (here or on another node) are never
 * touched. A pid reused since by another process only costs the usual wait.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

const FILE = 'media.owner';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lease-owner name for this process: `host:pid:random` (what `ownerIsGone` understands). */
export function processOwnerName(random: string): string {
  return `${hostname()}:${process.pid}:${random}`;
}

/**
 * True when `owner` (host:pid:…) names a process of THIS host that no longer runs: its leases
 * can be taken at once instead of waiting for them to expire. Anything else (another host,
 * a live pid, a name of another shape) is false.
 */
export function ownerIsGone(owner: string): boolean {
  const [host, pid] = owner.split(':');
  return host === hostname() && /^\d+$/.test(pid ?? '') && Number(pid) !== process.pid && !alive(Number(pid));
}

/**
 * Records `owner` as this node's media process and returns the owner name of a predecessor
 * on this host that died without releasing its leases (undefined when there is none).
 */
export async function takeOverFromPredecessor(runDir: string, owner: string): Promise<string | undefined> {
  await mkdir(runDir, { recursive: true });
  const file = join(runDir, FILE);
  const previous = (await readFile(file, 'utf8').catch(() => '')).trim();
  await writeFile(file, `${owner}\n`);
  if (!previous || previous === owner) return undefined;
  return ownerIsGone(previous) ? previous : undefined;
}
