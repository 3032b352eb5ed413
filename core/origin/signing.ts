/**
 * Signed playback tokens for private videos: HMAC-SHA256 keyed by the server secret over the
 * video id, an expiry (unix seconds) and, when the node binds tokens to viewers
 * (`signing.bind_ip`), the viewer's IP address. The token rides on every media URL as
 * `?token=`; the origin copies it onto the child URIs of the playlists it serves.
 *
 * Token text: `EXP.MAC` (any IP) or `EXP.ip.MAC` (bound to the IP it was issued to). The
 * marker lets a node that binds refuse unbound tokens instead of mistaking them for
 * tampered ones, and keeps bound tokens bound on a node that does not.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../config/schema.js';

/** Who a token is issued to or presented by. */
export interface Viewer {
  /** The client's IP address (as Koa's `ctx.ip` gives it). */
  ip?: string | undefined;
}

/** How tokens are issued: lifetime, and whether they are bound to the viewer's IP. */
export interface SigningPolicy {
  ttlSeconds: number;
  bindIp: boolean;
}

/** Why a token was refused, or `ok`. */
export type TokenCheck = 'ok' | 'missing' | 'malformed' | 'expired' | 'invalid';

const TOKEN_RE = /^(\d{1,12})\.(?:(ip)\.)?([A-Za-z0-9_-]{43})$/;

/** `::ffff:10.0.0.1` and `10.0.0.1` are the same viewer. */
function normalizeIp(ip: string | undefined): string {
  const v = (ip ?? '').trim().toLowerCase();
  return v.startsWith('::ffff:') && v.includes('.') ? v.slice(7) : v;
}

export const DEFAULT_SIGNING_POLICY: SigningPolicy = { ttlSeconds: 6 * 3600, bindIp: false };

/** The policy named by the `signing` config keys. */
export function signingPolicy(cfg: Pick<Config['signing'], 'ttl_s' | 'bind_ip'>): SigningPolicy {
  return { ttlSeconds: cfg.ttl_s, bindIp: cfg.bind_ip };
}

export class PlaybackSigner {
  readonly policy: SigningPolicy;

  constructor(
    private readonly secret: string,
    policy: Partial<SigningPolicy> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.policy = { ...DEFAULT_SIGNING_POLICY, ...policy };
  }

  /** The same secret under another policy (returns this signer when nothing changes). */
  withPolicy(policy: Partial<SigningPolicy>): PlaybackSigner {
    const next = { ...this.policy, ...policy };
    if (next.ttlSeconds === this.policy.ttlSeconds && next.bindIp === this.policy.bindIp) return this;
    return new PlaybackSigner(this.secret, next, this.now);
  }

  private mac(videoId: string, exp: number, ip: string | null): string {
    const payload = ip === null ? `${videoId}.${exp}` : `${videoId}.${exp}.ip.${ip}`;
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }

  /**
   * A token for the video. `expiresAt` (unix seconds) overrides the policy's lifetime; with
   * `bindIp` the token is bound to `viewer.ip`.
   */
  token(videoId: string, viewer: Viewer = {}, expiresAt?: number): string {
    const exp = expiresAt ?? Math.floor(this.now() / 1000) + this.policy.ttlSeconds;
    if (!this.policy.bindIp) return `${exp}.${this.mac(videoId, exp, null)}`;
    return `${exp}.ip.${this.mac(videoId, exp, normalizeIp(viewer.ip))}`;
  }

  /** Appends `?token=` (or `&token=`) for the video to a media URL. */
  signUrl(videoId: string, url: string, viewer: Viewer = {}): string {
    return `${url}${url.includes('?') ? '&' : '?'}token=${this.token(videoId, viewer)}`;
  }

  /** Checks a presented token for the video (and, for bound tokens, the presenting viewer). */
  check(videoId: string, token: string | undefined, viewer: Viewer = {}): TokenCheck {
    if (!token) return 'missing';
    const m = TOKEN_RE.exec(token);
    if (!m) return 'malformed';
    const bound = m[2] === 'ip';
    if (this.policy.bindIp && !bound) return 'invalid';
    const exp = Number(m[1]);
    const want = Buffer.from(this.mac(videoId, exp, bound ? normalizeIp(viewer.ip) : null));
    const got = Buffer.from(m[3]!);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return 'invalid';
    // Expiry is checked after the MAC so a forged expiry is reported as invalid, not expired.
    return exp * 1000 < this.now() ? 'expired' : 'ok';
  }

  verify(videoId: string, token: string | undefined, viewer: Viewer = {}): boolean {
    return this.check(videoId, token, viewer) === 'ok';
  }
}

const configured = new WeakMap<PlaybackSigner, PlaybackSigner>();

/**
 * The node's signer under the configured policy (`signing.ttl_s`, `signing.bind_ip`). The
 * composition root builds `signer` from the secret alone; this applies the policy once.
 */
export function playbackSigner(s: { signer: PlaybackSigner; config: Readonly<Pick<Config, 'signing'>> }): PlaybackSigner {
  let signer = configured.get(s.signer);
  if (!signer) {
    signer = s.signer.withPolicy(signingPolicy(s.config.signing));
    configured.set(s.signer, signer);
  }
  return signer;
}
