/**
 * Slows down stream-key guessing, whatever the ingest protocol: every refusal is answered
 * after a delay, and an address that sends more than `badKeyLimit` wrong keys a minute is
 * refused outright, even with a right key, until its budget refills (the token bucket of
 * core/telemetry).
 */
import { TokenBucketLimiter } from '../core/telemetry/rate-limit.js';

export class KeyGuessThrottle {
  private readonly throttle: TokenBucketLimiter;
  private readonly blockedUntil = new Map<string, number>();

  constructor(
    badKeyLimit: number,
    private readonly refusalDelayMs = 500,
  ) {
    this.throttle = new TokenBucketLimiter({ ratePerSecond: badKeyLimit / 60, burst: badKeyLimit });
  }

  /**
   * Runs `check` (the key lookup) unless the address is blocked. A refusal counts against the
   * address and resolves only after the delay; `blocked` says whether the key was even looked at.
   */
  async admit(address: string, check: () => Promise<boolean>): Promise<{ ok: boolean; blocked: boolean }> {
    const now = Date.now();
    const until = this.blockedUntil.get(address) ?? 0;
    const blocked = until > now;
    if (!blocked && until > 0) this.blockedUntil.delete(address);
    if (!blocked && (await check())) return { ok: true, blocked };
    if (!blocked) {
      const verdict = this.throttle.take(address, now);
      if (!verdict.allowed) this.blockedUntil.set(address, now + verdict.retryAfterS * 1000);
    }
    await new Promise((r) => setTimeout(r, this.refusalDelayMs));
    return { ok: false, blocked };
  }
}
