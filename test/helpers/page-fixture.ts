/**
 * What a file of page tests shares: one node, one scratch dir and one Chromium, all torn
 * down with the file's root test; the node and Chromium start at the same time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { Browser } from 'playwright-core';
import { launchBrowser } from './browser.js';
import { startServer, type StartOptions, type TestServer } from './server.js';

export interface PageFixture {
  server: TestServer;
  /** Scratch dir for generated media (removed at the end). */
  dir: string;
  /** Where screenshots go: FRAMECAST_SCREENSHOT_DIR, else the scratch dir. */
  shots: string;
  browser: Browser;
}

/** Starts the node and Chromium; `name` labels the scratch dir. */
export async function startPageFixture(t: Test, name: string, options?: StartOptions): Promise<PageFixture> {
  const [server, browser] = await besideBrowser(startServer(options), (node) => node.stop());
  const dir = await mkdtemp(join(tmpdir(), `framecast-${name}-`));
  t.teardown(async () => {
    await browser.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { server, dir, shots: process.env.FRAMECAST_SCREENSHOT_DIR ?? dir, browser };
}

/**
 * Launches Chromium while `starting` (a node, a fixture) comes up: each takes seconds. When
 * either fails, the one that came up is closed again (`close` for the other) and the error thrown.
 */
export async function besideBrowser<T>(starting: Promise<T>, close: (started: T) => Promise<void>): Promise<[T, Browser]> {
  const [started, launched] = await Promise.allSettled([starting, launchBrowser()]);
  if (started.status === 'fulfilled' && launched.status === 'fulfilled') return [started.value, launched.value];
  if (launched.status === 'fulfilled') await launched.value.close();
  if (started.status === 'fulfilled') await close(started.value);
  throw started.status === 'rejected' ? started.reason : (launched as PromiseRejectedResult).reason;
}
