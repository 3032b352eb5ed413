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

/** Pids whose parent is `ppid` (scans /proc: this kernel has no task/<tid>/children). */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = readStatFields(`/proc/${entry}/stat`);
    if (f && field(f, 4) === ppid) out.push(Number(entry));
  }
  return out;
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
  /** Scheduling niceness (as last seen). */
  nice: number;
}

/**
 * Polls the children of `parent` every `intervalMs` and keeps, for each, when it was first
 * and last seen and its CPU at the last sample. The last sample can miss up to one interval
 * of a child's life (and a child shorter than that entirely): good for a breakdown, not for
 * totals (use cutime for those).
 */
export class ChildSampler {
  readonly children = new Map<string, ChildRecord>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly parent: number,
    private readonly intervalMs = 100,
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
    // Every pid is read each time: pids are reused here (they wrap), so no cheaper filter is safe.
    for (const pid of childrenOf(this.parent)) {
      const f = readStatFields(`/proc/${pid}/stat`);
      if (!f || field(f, 4) !== this.parent) continue;
      // pid + start time names one process even if the pid is reused later.
      const key = `${pid}:${field(f, 22)}`;
      let rec = this.children.get(key);
      if (!rec) {
        rec = { pid, argv: commandLine(pid), firstSeen: now, lastSeen: now, cpu: 0, nice: 0 };
        this.children.set(key, rec);
      }
      // A freshly forked child may still show node's argv before exec: read it again.
      if (!rec.argv[0]?.includes('ff')) rec.argv = commandLine(pid);
      rec.lastSeen = now;
      rec.cpu = (field(f, 14) + field(f, 15)) / CLOCK_TICKS;
      rec.nice = field(f, 19);
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

/**
 * Waits until the rest of the machine is nearly idle (other processes using less than
 * `maxCores` over a 3 s window), at most `maxWaitMs`. On a shared machine this keeps a
 * neighbour's burst out of a measured phase's start; it cannot keep one out of the phase.
 * Returns the other load seen last, in cores.
 */
export async function waitForQuietMachine(maxCores = 0.15, maxWaitMs = 120_000): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const before = machineCpu().busy - cpuTimes('self').self;
    await new Promise((r) => setTimeout(r, 3000));
    const other = (machineCpu().busy - cpuTimes('self').self - before) / 3;
    if (other < maxCores || Date.now() > deadline) return other;
  }
}
