/**
 * Bearer-token auth (API.md "Auth"). The admin token may do everything; API tokens carry
 * scopes (upload, read, admin) and are stored hashed. Reads need no token; writes do.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Config } from '../../config/schema.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Database } from '../storage/metadata-db.js';

export const SCOPES = ['upload', 'read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export type Principal =
  | { kind: 'admin' }
  | { kind: 'token'; id: string; scopes: ReadonlySet<Scope> }
  | { kind: 'anonymous' };

export const ANONYMOUS: Principal = { kind: 'anonymous' };

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** A secret from config, or one generated on first start and kept under the data dir. */
function persistentSecret(cfg: Pick<Config, 'data_dir'>, file: string, configured: string): { value: string; created: boolean } {
  if (configured) return { value: configured, created: false };
  const path = join(cfg.data_dir, file);
  try {
    return { value: readFileSync(path, 'utf8').trim(), created: false };
  } catch {
    mkdirSync(cfg.data_dir, { recursive: true });
    const value = randomBytes(24).toString('base64url');
    try {
      writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
      return { value, created: true };
    } catch {
      // Another process won the race: use its value.
      return { value: readFileSync(path, 'utf8').trim(), created: false };
    }
  }
}

/** The admin token: FRAMECAST_ADMIN_TOKEN, else generated once under the data dir and printed once. */
export function ensureAdminToken(cfg: Pick<Config, 'data_dir' | 'admin_token'>, logger?: Logger): string {
  const { value, created } = persistentSecret(cfg, 'admin-token', cfg.admin_token);
  if (created) {
    logger?.warn({ admin_token_file: join(cfg.data_dir, 'admin-token') }, 'generated an admin token (shown once)');
    process.stdout.write(`\nFramecast admin token (keep it secret; stored in ${join(cfg.data_dir, 'admin-token')}):\n  ${value}\n\n`);
  }
  return value;
}

/** The signing secret for playback URLs: config, else generated once under the data dir. */
export function ensureSigningSecret(cfg: Pick<Config, 'data_dir' | 'signing'>): string {
  return persistentSecret(cfg, 'signing-secret', cfg.signing.secret).value;
}

export class Authenticator {
  private readonly adminHash: Buffer;

  constructor(
    adminToken: string,
    private readonly db: Kysely<Database>,
  ) {
    this.adminHash = Buffer.from(sha256(adminToken), 'hex');
  }

  /** Resolves an Authorization header; throws E_UNAUTHORIZED for a malformed or unknown token. */
  async principal(authorization: string | undefined): Promise<Principal> {
    if (!authorization) return ANONYMOUS;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) throw new AppError('E_UNAUTHORIZED', 'Authorization must be "Bearer <token>"');
    const hash = sha256(m[1]!);
    if (timingSafeEqual(Buffer.from(hash, 'hex'), this.adminHash)) return { kind: 'admin' };
    const row = await this.db
      .selectFrom('api_tokens')
      .select(['id', 'scopes', 'revoked_at'])
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    if (!row || row.revoked_at !== null) throw new AppError('E_UNAUTHORIZED', 'unknown or revoked token');
    return { kind: 'token', id: row.id, scopes: new Set(row.scopes.split(',') as Scope[]) };
  }

  async createToken(name: string, scopes: Scope[]): Promise<{ id: string; token: string; name: string; scopes: Scope[] }> {
    const token = `fc_${randomBytes(24).toString('base64url')}`;
    const id = randomBytes(6).toString('base64url');
    await this.db
      .insertInto('api_tokens')
      .values({ id, token_hash: sha256(token), name, scopes: scopes.join(','), created_at: Date.now(), revoked_at: null })
      .execute();
    return { id, token, name, scopes };
  }
}

export function hasScope(p: Principal, scope: Scope): boolean {
  if (p.kind === 'admin') return true;
  if (p.kind === 'anonymous') return false;
  return p.scopes.has('admin') || p.scopes.has(scope);
}

/** Throws 401 for anonymous callers and 403 for tokens without the scope. */
export function requireScope(p: Principal, scope: Scope): void {
  if (p.kind === 'anonymous') throw new AppError('E_UNAUTHORIZED');
  if (!hasScope(p, scope)) throw new AppError('E_FORBIDDEN', `this token lacks the "${scope}" scope`);
}

/** The owner recorded on things a principal creates. */
export function ownerOf(p: Principal): string | null {
  return p.kind === 'token' ? p.id : null;
}

/** May this principal manage (patch, delete, upload to) a video owned by `owner`? */
export function canManage(p: Principal, owner: string | null): boolean {
  if (p.kind === 'admin') return true;
  if (p.kind === 'anonymous') return false;
  return p.scopes.has('admin') || (p.scopes.has('upload') && owner === p.id);
}
