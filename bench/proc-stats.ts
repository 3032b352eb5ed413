/**
 * Linux /proc readings for the benchmarks: CPU time of a process (and of the children it
 * has reaped), its resident memory, its children, and a sampler that follows the short-lived
 * children (ffprobe, ffmpeg) of a process while a benchmark runs.
 *
 * /proc/<pid>/stat fields 14-17 are utime, stime, cutime, cstime in clock ticks. cutime and
 * cstime only grow when the parent waits for an exited child, which Node does for every
 * child it spawns, so they hold the CPU of the ffmpeg processes of the media process.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's time fields. */
export const CLOCK_TICKS: number = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds of a process: its own (all threads) and its reaped children's. */
export interface CpuTimes {
  self: number;
  children: number;
  total: number;
}

/** The fields after "(comm)" of a /proc stat line (comm may contain spaces and parentheses). */
function statFields(text: string): string[] {
  return text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
}

function readStatFields(path: string): string[] | undefined {
  try {
    return statFields(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Field N of stat(5) (1-based, as in the man page) from the fields after comm (which start at field 3). */
function field(fields: string[], n: number): number {
  return Number(fields[n - 3]);
}

export function cpuTimes(pid: number | 'self'): CpuTimes {
  const f = readStatFields(`/proc/${pid}/stat`);
  if (!f) throw new Error(`process ${pid} is gone`);
  const self = (field(f, 14) + field(f, 15)) / CLOCK_TICKS;
  const children = (field(f, 16) + field(f, 17)) / CLOCK_TICKS;
  return { self, children, total: self + children };
}

/** CPU seconds of each live thread of a process, by thread id. */
export function threadCpu(pid: number): Map<number, { name: string; cpu: number }> {
  const out = new Map<number, { name: string; cpu: number }>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
      const f = statFields(text);
      out.set(Number(tid), { name, cpu: (field(f, 14) + field(f, 15)) / CLOCK_TICKS });
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return out;
}

/** Resident set size and its high-water mark, in bytes (from /proc/<pid>/status). */
export function memory(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/**
 * Pids whose parent is `ppid` (scans /proc: this kernel has no task/<tid>/children).
 * With `newerThan`, only pids above it are read: pids grow, so a caller that scanned before
 * only needs the processes started since.
 */
export function childrenOf(ppid: number, newerThan = 0): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) <= newerThan) continue;
    const f = readStatFields(`/proc/${entry}/stat`);
    if (f && field(f, 4) === ppid) out.push(Number(entry));
  }
  return out;
}

function highestPid(): number {
  let max = 0;
  for (const entry of readdirSync('/proc')) if (/^\d+$/.test(entry)) max = Math.max(max, Number(entry));
  return max;
}

function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return [];
  }
}

/** One child seen by the sampler. CPU and times are as of its last sample (it may have exited since). */
export interface ChildRecord {
  pid: number;
  argv: string[];
  firstSeen: number;
  lastSeen: number;
  cpu: number;
}

/**
 * Polls the children of `parent` every `intervalMs` and keeps, for each, when it was first
 * and last seen and its CPU at the last sample. The last sample can miss up to one interval
 * of a child's life: good for a breakdown, not for totals (use cutime for those).
 */
export class ChildSampler {
  readonly children = new Map<number, ChildRecord>();
  private timer: NodeJS.Timeout | undefined;
  private scannedUpTo = 0;

  constructor(
    private readonly parent: number,
    private readonly intervalMs = 50,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  stop(): ChildRecord[] {
    clearInterval(this.timer);
    this.sample();
    return [...this.children.values()].sort((a, b) => a.firstSeen - b.firstSeen);
  }

  private sample(): void {
    const now = Date.now();
    // Cheap enough to run every 50 ms: read the stat of new pids and of known children only.
    const scanned = highestPid();
    const fresh = childrenOf(this.parent, this.scannedUpTo);
    this.scannedUpTo = Math.max(this.scannedUpTo, scanned);
    const live = [...this.children.keys()].filter((pid) => !fresh.includes(pid));
    for (const pid of [...live, ...fresh]) {
      const f = readStatFields(`/proc/${pid}/stat`);
      if (!f || field(f, 4) !== this.parent) continue;
      let rec = this.children.get(pid);
      if (!rec) {
        rec = { pid, argv: commandLine(pid), firstSeen: now, lastSeen: now, cpu: 0 };
        this.children.set(pid, rec);
      }
      // A freshly forked child may still show node's argv before exec: read it again.
      if (!rec.argv[0]?.includes('ff')) rec.argv = commandLine(pid);
      rec.lastSeen = now;
      rec.cpu = (field(f, 14) + field(f, 15)) / CLOCK_TICKS;
    }
  }
}

/** CPU seconds the whole machine spent busy (all cores), and stolen by the hypervisor. */
export function machineCpu(): { busy: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // cpu  user nice system idle iowait irq softirq steal …
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  return { busy: (user! + nice! + system! + irq! + softirq!) / CLOCK_TICKS, steal: steal! / CLOCK_TICKS };
}
