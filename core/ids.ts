import { randomBytes } from 'node:crypto';

/** Video and live ids: 12 URL-safe characters (72 random bits). */
export const ID_RE = /^[A-Za-z0-9_-]{12}$/;

export function newId(): string {
  return randomBytes(9).toString('base64url');
}

export function isId(v: unknown): v is string {
  return typeof v === 'string' && ID_RE.test(v);
}
