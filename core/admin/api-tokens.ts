/**
 * API token administration (API.md "Auth"): listing and revoking the tokens that
 * `Authenticator.createToken` made. Used by /v1/tokens and `framecast tokens`.
 */
import type { Kysely } from 'kysely';
import { AppError } from '../errors.js';
import type { Scope } from '../http/auth.js';
import type { Database } from '../storage/metadata-db.js';

/** A token as listed: never the secret, which is shown once at creation. */
export interface TokenView {
  id: string;
  name: string;
  scopes: Scope[];
  created_at: string;
  revoked_at: string | null;
}

function view(row: { id: string; name: string; scopes: string; created_at: number; revoked_at: number | null }): TokenView {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes.split(',') as Scope[],
    created_at: new Date(Number(row.created_at)).toISOString(),
    revoked_at: row.revoked_at === null ? null : new Date(Number(row.revoked_at)).toISOString(),
  };
}

/** Every token, newest first (revoked ones too, marked). */
export async function listTokens(db: Kysely<Database>): Promise<TokenView[]> {
  const rows = await db.selectFrom('api_tokens').select(['id', 'name', 'scopes', 'created_at', 'revoked_at']).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
  return rows.map(view);
}

/** Revokes a token at once (its next request gets 401); revoking twice keeps the first time. */
export async function revokeToken(db: Kysely<Database>, id: string, now = Date.now()): Promise<TokenView> {
  await db.updateTable('api_tokens').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  const row = await db.selectFrom('api_tokens').select(['id', 'name', 'scopes', 'created_at', 'revoked_at']).where('id', '=', id).executeTakeFirst();
  if (!row) throw new AppError('E_NOT_FOUND', `token ${id} not found`);
  return view(row);
}
