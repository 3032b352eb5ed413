/**
 * Every error body is `{"error": {"code", "message"}}` (API.md "Errors"), including the
 * refusals @tus/server writes itself (a missing Tus-Resumable, a bad header, an offset
 * conflict, an unknown or expired upload) as plain text, and the JSON bodies our hooks hand
 * it, which it would label text/plain. The status stays the one the tus protocol gives; the
 * body becomes ours, its code the one that status means.
 */
import { AppError, type ErrorCode } from '../errors.js';

/** The code a tus refusal's status means (tus 1.0.0 and @tus/utils ERRORS). */
const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'E_BAD_REQUEST',
  401: 'E_UNAUTHORIZED',
  403: 'E_FORBIDDEN',
  404: 'E_NOT_FOUND',
  // An upload past its expiry is gone for good: as unknown as one that never was.
  410: 'E_NOT_FOUND',
  409: 'E_CONFLICT',
  412: 'E_BAD_REQUEST',
  413: 'E_TOO_LARGE',
  415: 'E_BAD_REQUEST',
  429: 'E_RATE_LIMITED',
  // tus checksum extension: the chunk does not match its Upload-Checksum.
  460: 'E_BAD_REQUEST',
  501: 'E_BAD_REQUEST',
  503: 'E_UNAVAILABLE',
  507: 'E_STORAGE_FULL',
};

function codeFor(status: number): ErrorCode {
  return CODE_BY_STATUS[status] ?? (status >= 500 ? 'E_INTERNAL' : 'E_BAD_REQUEST');
}

/** Our error body already (a hook's AppError), else undefined. */
function ownBody(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown } } | null;
    return typeof parsed?.error?.code === 'string' ? text : undefined;
  } catch {
    return undefined;
  }
}

/** `response` unchanged when it is not an error; else the same status with API.md's body. */
export async function withErrorBody(response: Response): Promise<Response> {
  if (response.status < 400 || response.body === null) return response;
  const text = await response.text();
  const body = ownBody(text) ?? JSON.stringify(new AppError(codeFor(response.status), text.trim() || undefined).toBody());
  const headers = new Headers(response.headers);
  headers.set('Content-Type', 'application/json');
  headers.set('Content-Length', String(Buffer.byteLength(body)));
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}
