/** Reads small request bodies (no dependency: our bodies are tiny). */
import type { Context } from 'koa';
import { AppError } from '../errors.js';

const MAX_JSON_BYTES = 1024 * 1024;

/** The whole body, refused with E_TOO_LARGE past `maxBytes` (`label` names it in the message). */
async function readBody(ctx: Context, maxBytes: number, label: string): Promise<Buffer> {
  const tooLarge = () => {
    // The rest of the body is never read: the connection cannot carry another request.
    ctx.set('Connection', 'close');
    return new AppError('E_TOO_LARGE', `${label} over ${maxBytes >= 1024 * 1024 ? `${maxBytes / 1024 / 1024} MiB` : `${maxBytes / 1024} KiB`}`);
  };
  if (Number(ctx.get('content-length')) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function readJson(ctx: Context): Promise<unknown> {
  const type = ctx.get('content-type');
  const body = await readBody(ctx, MAX_JSON_BYTES, 'JSON body');
  if (body.length === 0) return {};
  if (type && !/json/i.test(type)) throw new AppError('E_BAD_REQUEST', 'expected Content-Type: application/json');
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new AppError('E_BAD_REQUEST', 'the body is not valid JSON');
  }
}

/** A small UTF-8 text body (e.g. an SDP offer), at most `maxBytes`. */
export async function readText(ctx: Context, maxBytes: number, label: string): Promise<string> {
  return (await readBody(ctx, maxBytes, label)).toString('utf8');
}
