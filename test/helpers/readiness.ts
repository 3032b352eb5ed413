/** Reading a node's readiness, and waiting for a state without timed assertions. */
import type { TestServer } from './server.js';

/** GET /readyz: its status and JSON body. */
export async function readyz(server: TestServer): Promise<{ status: number; body: any }> {
  const r = await fetch(`${server.url}/readyz`);
  return { status: r.status, body: await r.json() };
}

/**
 * Polls `read` until `until` holds and returns that value; throws with the last value seen
 * after `timeoutMs` (a bound for a hung test, not an assertion about speed).
 */
export async function eventually<T>(read: () => Promise<T>, until: (v: T) => boolean, what: string, timeoutMs = 60_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  do {
    last = await read();
    if (until(last)) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  } while (Date.now() < deadline);
  throw new Error(`${what}: last seen ${JSON.stringify(last)}`);
}
