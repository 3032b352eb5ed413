/**
 * Signed URLs for one object: who holds one may GET or PUT exactly that object until it
 * expires, with no credentials of their own (remote runners; direct uploads reuse it).
 *
 * When the storage can presign (S3), the URL is the bucket's own: bytes never pass through
 * a node. Otherwise (fs) it is a URL of the node itself, `/v1/objects/{key}?expires=&sig=`
 * (core/http/signed-urls.ts: the method is its purpose), keyed by a secret derived from `signing.secret`
 * (every node of a cluster shares it, so any node accepts it); `serveSignedObject` answers it.
 * Node URLs are paths: the client resolves them against the URL it reached the node at.
 */
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../logger.js';
import { assertSafeKey, type ObjectStore } from './object-store.js';
import { asAppError } from '../errors.js';
import { NodeUrlSigner } from '../http/signed-urls.js';

export const SIGNED_OBJECTS_PATH = '/v1/objects/';

export type SignedMethod = 'GET' | 'PUT';

export class ObjectUrlSigner {
  readonly #urls: NodeUrlSigner;

  constructor(
    secret: string,
    private readonly store: ObjectStore,
    now: () => number = Date.now,
  ) {
    // A key of its own: a playback token or a part URL can never pass for an object URL.
    this.#urls = new NodeUrlSigner(createHmac('sha256', secret).update('framecast object urls v1').digest(), now);
  }

  /** A URL to GET `key` from for `ttlS` seconds. */
  async download(key: string, ttlS: number): Promise<string> {
    assertSafeKey(key);
    return this.store.presign ? this.store.presign(key, ttlS) : this.nodeUrl('GET', key, ttlS);
  }

  /** A URL to PUT the whole of `key` to for `ttlS` seconds (the new bytes replace the object at once). */
  async upload(key: string, ttlS: number): Promise<string> {
    assertSafeKey(key);
    return this.store.presignPut ? this.store.presignPut(key, ttlS) : this.nodeUrl('PUT', key, ttlS);
  }

  /** A node URL (path and query) for `method` on `key`, whatever the storage. */
  nodeUrl(method: SignedMethod, key: string, ttlS: number): string {
    return this.#urls.sign(method, `${SIGNED_OBJECTS_PATH}${key.split('/').map(encodeURIComponent).join('/')}`, ttlS);
  }

  /** The key a node URL grants `method` on, or undefined when it is forged, altered or expired. */
  verify(method: string, url: URL): string | undefined {
    if (!url.pathname.startsWith(SIGNED_OBJECTS_PATH)) return undefined;
    if (this.#urls.verify(method === 'HEAD' ? 'GET' : method, url.pathname, url.searchParams) !== 'ok') return undefined;
    try {
      const key = decodeURIComponent(url.pathname.slice(SIGNED_OBJECTS_PATH.length));
      assertSafeKey(key);
      return key;
    } catch {
      return undefined;
    }
  }
}

function answer(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code, message } }));
}

/**
 * Answers a request for a signed node URL (see the top of this file): GET/HEAD streams the
 * object, PUT stores the body as the object. 403 E_FORBIDDEN for a bad or expired signature.
 */
export async function serveSignedObject(
  signer: ObjectUrlSigner,
  store: ObjectStore,
  logger: Logger,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = req.method ?? 'GET';
  const key = signer.verify(method, new URL(req.url ?? '/', 'http://node'));
  if (!key) return answer(res, 403, 'E_FORBIDDEN', 'the signed URL is invalid or has expired');
  try {
    if (method === 'PUT') {
      const info = await store.put(key, req);
      res.writeHead(200, { etag: info.etag, 'content-length': '0' });
      res.end();
      return;
    }
    const object = method === 'HEAD' ? undefined : await store.get(key);
    const info = object?.info ?? (await store.head(key));
    if (!info) return answer(res, 404, 'E_NOT_FOUND', 'no such object');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(info.size), etag: info.etag });
    if (!object) return void res.end();
    await pipeline(object.body, res);
  } catch (err) {
    const known = asAppError(err);
    logger.warn({ err, key, method }, 'signed object request failed');
    if (!res.headersSent) answer(res, known?.status ?? 500, known?.code ?? 'E_INTERNAL', known?.message ?? 'the object could not be transferred');
    else res.destroy();
  }
}
