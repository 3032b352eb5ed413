/**
 * When the media process dies (OOM, SIGKILL), the ffmpeg processes it started live on,
 * reparented to init, still encoding into a work dir nobody reads. The next media process
 * ends them at start-up: every ffmpeg whose arguments point into our work dir and whose
 * parent is gone. Linux only (reads /proc); elsewhere it does nothing.
 */
import { readdir, readFile } from 'node:fs/promises';

async function processes(): Promise<{ pid: number; ppid: number; argv: string[] }[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const out: { pid: number; ppid: number; argv: string[] }[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid: Number(name), ppid, argv });
    } catch {
      /* the process ended while we looked */
    }
  }
  return out;
}

/** Kills orphaned ffmpeg processes working under `workRoot`; returns their pids. */
export async function reapOrphanFfmpeg(workRoot: string): Promise<number[]> {
  const all = await processes();
  const killed: number[] = [];
  for (const p of all) {
    const isFfmpeg = /(^|\/)ffmpeg[^/]*$/.test(p.argv[0] ?? '');
    const ours = p.argv.some((a) => a.startsWith(workRoot));
    // Orphans are adopted by init, or by our supervisor when it runs as PID 1 in a container.
    const orphaned = p.ppid !== process.pid && (p.ppid === 1 || p.ppid === process.ppid || !isNodeParent(all, p.ppid));
    if (isFfmpeg && ours && orphaned) {
      try {
        process.kill(p.pid, 'SIGKILL');
        killed.push(p.pid);
      } catch {
        /* already gone */
      }
    }
  }
  return killed;
}

/** True when `pid` is a live node process (a sibling media process may own the ffmpeg). */
function isNodeParent(all: { pid: number; argv: string[] }[], pid: number): boolean {
  const parent = all.find((p) => p.pid === pid);
  return !!parent && /(^|\/)node[^/]*$/.test(parent.argv[0] ?? '');
}
