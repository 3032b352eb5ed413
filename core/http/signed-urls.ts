/**
 * Signed URLs of the node itself: a path that anyone holding the URL may use until it
 * expires, for one purpose (PUT one part of one multipart upload; GET or PUT one object for a
 * remote runner, core/storage/object-urls.ts), without a token.
 * HMAC-SHA256 keyed by the server secret over the purpose, the path and the expiry, so a
 * signature for one path or purpose is worthless for another.
 *
 * The URL carries `?expires=UNIX_S&sig=MAC`; the path must be verified as the client sent it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignedUrlCheck = 'ok' | 'missing' | 'expired' | 'invalid';

export class NodeUrlSigner {
  /** @param secret the HMAC key: `signing.secret`, or a key derived from it for one family of URLs. */
  constructor(
    private readonly secret: string | Buffer,
    private readonly now: () => number = Date.now,
  ) {}

  #mac(purpose: string, path: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${purpose}\n${path}\n${expires}`).digest('base64url');
  }

  /** `path?expires=…&sig=…`, valid for `ttlS` seconds. */
  sign(purpose: string, path: string, ttlS: number): string {
    const expires = Math.floor(this.now() / 1000) + Math.max(1, Math.round(ttlS));
    return `${path}?expires=${expires}&sig=${this.#mac(purpose, path, expires)}`;
  }

  /** Checks the `expires` and `sig` query values presented for `path`. */
  verify(purpose: string, path: string, query: URLSearchParams): SignedUrlCheck {
    const expiresText = query.get('expires');
    const sig = query.get('sig');
    if (!expiresText || !sig) return 'missing';
    const expires = Number(expiresText);
    if (!/^\d{1,12}$/.test(expiresText) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return 'invalid';
    const expected = Buffer.from(this.#mac(purpose, path, expires));
    if (!timingSafeEqual(expected, Buffer.from(sig))) return 'invalid';
    return expires * 1000 < this.now() ? 'expired' : 'ok';
  }
}
