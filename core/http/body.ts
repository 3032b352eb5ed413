/** Reads a small JSON request body (no dependency: our bodies are tiny). */
import type { Context } from 'koa';
import { AppError } from '../errors.js';

const MAX_JSON_BYTES = 1024 * 1024;

export async function readJson(ctx: Context): Promise<unknown> {
  const type = ctx.get('content-type');
  const tooLarge = () => {
    // The rest of the body is never read: the connection cannot carry another request.
    ctx.set('Connection', 'close');
    return new AppError('E_TOO_LARGE', 'JSON body over 1 MiB');
  };
  if (Number(ctx.get('content-length')) > MAX_JSON_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BYTES) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  if (type && !/json/i.test(type)) throw new AppError('E_BAD_REQUEST', 'expected Content-Type: application/json');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new AppError('E_BAD_REQUEST', 'the body is not valid JSON');
  }
}
