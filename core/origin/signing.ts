/**
 * Signed playback tokens for private videos: HMAC-SHA256 over (video id, expiry), keyed by
 * the server secret. The token rides on every media URL as `?token=`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export class PlaybackSigner {
  constructor(
    private readonly secret: string,
    private readonly ttlSeconds = 6 * 3600,
    private readonly now: () => number = Date.now,
  ) {}

  private mac(videoId: string, exp: number): string {
    return createHmac('sha256', this.secret).update(`${videoId}.${exp}`).digest('base64url');
  }

  token(videoId: string): string {
    const exp = Math.floor(this.now() / 1000) + this.ttlSeconds;
    return `${exp}.${this.mac(videoId, exp)}`;
  }

  /** Appends `?token=` for the video to a media URL. */
  signUrl(videoId: string, url: string): string {
    return `${url}${url.includes('?') ? '&' : '?'}token=${this.token(videoId)}`;
  }

  verify(videoId: string, token: string | undefined): boolean {
    if (!token) return false;
    const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return false;
    const exp = Number(m[1]);
    if (exp * 1000 < this.now()) return false;
    const want = Buffer.from(this.mac(videoId, exp));
    const got = Buffer.from(m[2]!);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}
