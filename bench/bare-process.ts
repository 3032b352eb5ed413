/** Reference servers of the benchmarks (bench/bare-*.ts): starting one, and the cluster it runs as. */
import { spawn } from 'node:child_process';
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../test/helpers/server.js';

/** Starts a reference server script (bench/bare-*.ts); resolves once it prints {"port":N}. */
export async function startBareServer(script: string, args: readonly string[]): Promise<{ url: string; pid: number; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  for await (const line of createInterface({ input: child.stdout! })) {
    const { port } = JSON.parse(line) as { port: number };
    return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill('SIGTERM') };
  }
  throw new Error(`${script} did not start`);
}

/**
 * In a reference server script: runs `worker(port)` in `processes` node:cluster workers
 * sharing one loopback port (as Framecast's HTTP processes do), and prints {"port":N} once
 * every one listens, which is what startBareServer waits for.
 */
export function serveInCluster(processes: number, worker: (port: number) => void): void {
  if (!cluster.isPrimary) {
    worker(Number(process.env.BARE_PORT));
    return;
  }
  const probe = createServer();
  // The primary only picks the port; the workers share it through cluster.
  probe.listen(0, '127.0.0.1', () => {
    const { port } = probe.address() as { port: number };
    probe.close();
    let listening = 0;
    for (let i = 0; i < processes; i++) {
      cluster.fork({ BARE_PORT: String(port) }).on('listening', () => {
        if (++listening === processes) process.stdout.write(`${JSON.stringify({ port })}\n`);
      });
    }
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
}
