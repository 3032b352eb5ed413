/**
 * Headless Chromium for end-to-end tests: Debian's /usr/bin/chromium driven by playwright-core
 * (no browser download). Each launch gets a fresh, throwaway profile from Playwright.
 */
import { chromium, type Browser, type LaunchOptions } from 'playwright-core';

/** Where the system Chromium lives (.ci/run installs it). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a quiet, deterministic headless browser that may autoplay media. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

/**
 * A fake camera (a test pattern) and microphone (a beep) granted without a prompt, and
 * WebRTC allowed to use loopback addresses without mDNS names: a page on
 * http://127.0.0.1 can publish over WebRTC to a server on this machine.
 */
export const FAKE_MEDIA_ARGS: readonly string[] = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

/**
 * Starts Chromium (with `extraArgs` after ours). The caller closes it (`t.teardown(() => browser.close())`).
 * `chromium.launch` always uses a new temporary user-data-dir and removes it on close.
 */
export async function launchBrowser(options: Pick<LaunchOptions, 'timeout' | 'slowMo'> & { extraArgs?: readonly string[] } = {}): Promise<Browser> {
  const { extraArgs = [], ...rest } = options;
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    ...rest,
  });
}
