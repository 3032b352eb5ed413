/**
 * Starts `framecast runner --url URL --token TOKEN` as an operator would on another machine:
 * its environment has no FRAMECAST_* variable at all (no database, no storage), only PATH
 * and the like. The runner gets a process group of its own, so `kill()` ends it and its
 * ffmpeg at once, as a machine that vanishes would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { programArgs } from './entry.js';
import { REPO_ROOT } from './server.js';

export interface TestRunner {
  process: ChildProcess;
  workDir: string;
  /** Where it keeps its runner token after registering. */
  stateFile: string;
  logs(): string;
  exited: Promise<number | null>;
  /** Waits (bounded) until its log has a line matching `re`. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGKILL to the whole group (runner and its ffmpeg). */
  kill(): void;
  stop(): Promise<void>;
}

export async function startRunner(url: string, token: string, name: string): Promise<TestRunner> {
  const workDir = await mkdtemp(join(tmpdir(), `framecast-runner-${name}-`));
  const stateFile = join(workDir, 'state.json');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FRAMECAST_')));
  const child = spawn(process.execPath, [...programArgs('core/cli/main.ts'), 'runner', '--url', url, '--token', token, '--name', name, '--work-dir', workDir, '--state', stateFile, '--wait-s', '5'], {
    cwd: REPO_ROOT,
    env: { ...env, FRAMECAST_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  return {
    process: child,
    workDir,
    stateFile,
    logs: () => output,
    exited,
    async waitForLog(re, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(output)) {
        if (child.exitCode !== null) throw new Error(`runner ${name} exited (${child.exitCode}) before logging ${re}:\n${output.slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`runner ${name} did not log ${re} within ${timeoutMs} ms:\n${output.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    kill,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(-child.pid!, 'SIGTERM');
      const timer = setTimeout(kill, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
