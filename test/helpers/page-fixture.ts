/**
 * What a file of page tests shares: one node, one scratch dir and one Chromium, all torn
 * down with the file's root test.
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
  const server = await startServer(options);
  const dir = await mkdtemp(join(tmpdir(), `framecast-${name}-`));
  const browser = await launchBrowser();
  t.teardown(async () => {
    await browser.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { server, dir, shots: process.env.FRAMECAST_SCREENSHOT_DIR ?? dir, browser };
}
