/**
 * The one table of error codes (API.md "Errors"). Every HTTP error body and every
 * processing failure kept on a video uses a code from here.
 */
export const ERRORS = {
  E_NOT_FOUND: { status: 404, retryable: false, message: 'not found' },
  E_BAD_REQUEST: { status: 400, retryable: false, message: 'bad request' },
  E_UNAUTHORIZED: { status: 401, retryable: false, message: 'a valid bearer token is required' },
  E_FORBIDDEN: { status: 403, retryable: false, message: 'this token may not do that' },
  E_CONFLICT: { status: 409, retryable: false, message: 'conflict' },
  E_TOO_LARGE: { status: 413, retryable: false, message: 'the upload is larger than the limit' },
  E_UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, message: 'the request body has the wrong Content-Type' },
  E_NOT_MEDIA: { status: 422, retryable: false, message: 'the file is not a supported media file' },
  E_NO_VIDEO_STREAM: { status: 422, retryable: false, message: 'the file has neither audio nor video' },
  E_CODEC_UNSUPPORTED: { status: 422, retryable: false, message: 'the video codec is not supported' },
  E_TOO_LONG: { status: 422, retryable: false, message: 'the video is longer than the limit' },
  E_RESOLUTION_TOO_HIGH: { status: 422, retryable: false, message: 'the video resolution is above the limit' },
  E_MODERATION_REJECTED: { status: 422, retryable: false, message: 'rejected by moderation' },
  E_TRANSCODE_FAILED: { status: 500, retryable: true, message: 'transcoding failed' },
  E_PROCESSING_TIMEOUT: { status: 500, retryable: true, message: 'processing took longer than the limit' },
  E_RATE_LIMITED: { status: 429, retryable: true, message: 'too many requests; slow down' },
  E_NOT_IMPLEMENTED: { status: 501, retryable: false, message: 'not offered by this server' },
  E_UNAVAILABLE: { status: 503, retryable: true, message: 'service unavailable' },
  E_STORAGE_FULL: { status: 507, retryable: true, message: 'the server is out of storage space; try again later' },
  E_INTERNAL: { status: 500, retryable: true, message: 'internal error' },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryable = ERRORS[code].retryable;
  }

  toBody(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && Object.hasOwn(ERRORS, v);
}

/** The shape a failed video carries (API.md). */
export interface VideoError {
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

/** errnos meaning the storage cannot take more bytes: full, over quota, read-only. */
const STORAGE_FULL_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);
/**
 * The same errnos as strerror text: how ffmpeg reports them (in its stderr, which becomes
 * the error message), and all that is left of an error that crossed a worker thread.
 */
const STORAGE_FULL_TEXT = /no space left on device|disk quota exceeded|read-only file system/i;

/**
 * 'E_STORAGE_FULL' when `err`, or an error in its `cause` chain, says the storage could not
 * take the write (disk full, over quota, read-only); undefined otherwise. The one place
 * that recognises these failures: upload handling, processing and the adapters ask it.
 */
export function storageErrorCode(err: unknown): 'E_STORAGE_FULL' | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof AppError) return e.code === 'E_STORAGE_FULL' ? e.code : undefined;
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && STORAGE_FULL_ERRNOS.has(code)) return 'E_STORAGE_FULL';
    if (typeof message === 'string' && STORAGE_FULL_TEXT.test(message)) return 'E_STORAGE_FULL';
  }
  return undefined;
}

/** `err` as an AppError: itself, E_STORAGE_FULL for a full or read-only storage, else undefined. */
export function asAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  const code = storageErrorCode(err);
  if (!code) return undefined;
  // An errno error names the syscall; its message would also carry local paths.
  const { code: errno, syscall } = err as { code?: unknown; syscall?: unknown };
  const detail = typeof errno === 'string' && typeof syscall === 'string' ? `${errno}, ${syscall}` : err instanceof Error ? err.message : String(err);
  return new AppError(code, `${ERRORS[code].message} (${detail})`, { cause: err });
}

/** Turns anything thrown during processing into the video's error, unknowns as E_TRANSCODE_FAILED. */
export function toVideoError(err: unknown): VideoError {
  const known = asAppError(err);
  if (known) return { code: known.code, message: known.message, retryable: known.retryable };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'E_TRANSCODE_FAILED', message, retryable: true };
}
