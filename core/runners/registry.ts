/**
 * Remote runners' identities (issue 16 item 1). An admin makes a registration token
 * (`fcrr_…`, reusable until revoked); a runner presents it once with its name and the
 * encoders it proved and gets its own runner token (`fcr_…`), which it alone holds and which
 * authenticates every later call. Tokens are stored hashed. An admin can drain a runner (it
 * finishes its job and claims no more) or revoke it (its token is refused at once and the
 * leases of its jobs end, so another runner or worker takes them).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AppError } from '../errors.js';
import type { Database, RunnerRow, RunnerState } from '../storage/metadata-db.js';

const REGISTRATION_PREFIX = 'fcrr_';
const RUNNER_PREFIX = 'fcr_';

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** The lease owner of a job a runner claimed: binds the job to the runner and the job's own token. */
export function runnerJobOwner(runnerId: string, jobToken: string): string {
  return `runner:${runnerId}:${sha256(jobToken).slice(0, 24)}`;
}

/** The runner id in a lease owner made by `runnerJobOwner`, or undefined for a worker's. */
export function runnerOfOwner(owner: string | null): string | undefined {
  return owner?.startsWith('runner:') ? owner.split(':')[1] : undefined;
}

/** A fresh per-job token (handed to the runner with the job, never stored). */
export function newJobToken(): string {
  return `fcj_${randomBytes(24).toString('base64url')}`;
}

/** A runner as GET /v1/runners shows it (never its token). */
export interface RunnerView {
  id: string;
  name: string;
  state: RunnerState;
  encoders: string[];
  created_at: string;
  last_seen_at: string;
  revoked_at: string | null;
}

export function runnerView(row: RunnerRow): RunnerView {
  return {
    id: row.id,
    name: row.name,
    state: row.state,
    encoders: JSON.parse(row.encoders) as string[],
    created_at: new Date(Number(row.created_at)).toISOString(),
    last_seen_at: new Date(Number(row.last_seen_at)).toISOString(),
    revoked_at: row.revoked_at === null ? null : new Date(Number(row.revoked_at)).toISOString(),
  };
}

export class RunnerRegistry {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new registration token; the secret is shown only now. */
  async createRegistrationToken(): Promise<{ id: string; token: string }> {
    const token = `${REGISTRATION_PREFIX}${randomBytes(24).toString('base64url')}`;
    const id = randomBytes(6).toString('base64url');
    await this.db.insertInto('runner_registration_tokens').values({ id, token_hash: sha256(token), created_at: this.now(), revoked_at: null }).execute();
    return { id, token };
  }

  /** Registers a runner with a registration token; returns its id and its own token. */
  /** The id of a live registration token; E_UNAUTHORIZED when unknown or revoked. Checked before the request body is read. */
  async registrationTokenId(registrationToken: string): Promise<string> {
    const reg = await this.db
      .selectFrom('runner_registration_tokens')
      .select(['id', 'revoked_at'])
      .where('token_hash', '=', sha256(registrationToken))
      .executeTakeFirst();
    if (!reg || reg.revoked_at !== null) throw new AppError('E_UNAUTHORIZED', 'unknown or revoked registration token');
    return reg.id;
  }

  /** Registers a runner under a registration token that registrationTokenId accepted. */
  async register(registrationTokenId: string, input: { name: string; encoders: string[] }): Promise<{ id: string; token: string }> {
    const token = `${RUNNER_PREFIX}${randomBytes(24).toString('base64url')}`;
    const id = `r${randomBytes(6).toString('base64url')}`;
    const t = this.now();
    await this.db
      .insertInto('runners')
      .values({ id, name: input.name, token_hash: sha256(token), registration_token_id: registrationTokenId, encoders: JSON.stringify(input.encoders), state: 'active', created_at: t, last_seen_at: t, revoked_at: null })
      .execute();
    return { id, token };
  }

  /** The runner a token belongs to (and notes that it was seen); E_UNAUTHORIZED when unknown or revoked. */
  async authenticate(authorization: string | undefined): Promise<RunnerRow> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) throw new AppError('E_UNAUTHORIZED', 'a runner token is required (Authorization: Bearer fcr_…)');
    const row = await this.db.selectFrom('runners').selectAll().where('token_hash', '=', sha256(m[1]!)).executeTakeFirst();
    if (!row || row.state === 'revoked') throw new AppError('E_UNAUTHORIZED', 'unknown or revoked runner token');
    const t = this.now();
    await this.db.updateTable('runners').set({ last_seen_at: t }).where('id', '=', row.id).execute();
    return { ...row, last_seen_at: t };
  }

  /** The encoders a runner advertises (it proves them again at every start). */
  async setEncoders(id: string, encoders: string[]): Promise<void> {
    await this.db.updateTable('runners').set({ encoders: JSON.stringify(encoders) }).where('id', '=', id).execute();
  }

  async list(): Promise<RunnerRow[]> {
    return this.db.selectFrom('runners').selectAll().orderBy('created_at', 'desc').orderBy('id').execute();
  }

  async get(id: string): Promise<RunnerRow> {
    const row = await this.db.selectFrom('runners').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new AppError('E_NOT_FOUND', `runner ${id} not found`);
    return row;
  }

  /** The runner's state now ('revoked' when it no longer exists): a long-poll re-reads it after each wait. */
  async state(id: string): Promise<RunnerState> {
    const row = await this.db.selectFrom('runners').select('state').where('id', '=', id).executeTakeFirst();
    return row?.state ?? 'revoked';
  }

  /** Drain: the runner finishes what it runs and claims nothing more (until `resume`). */
  async drain(id: string): Promise<RunnerRow> {
    await this.db.updateTable('runners').set({ state: 'draining' }).where('id', '=', id).where('state', '=', 'active').execute();
    return this.get(id);
  }

  /** Revoke: the token is refused from now on and the runner's running jobs are released at once. */
  async revoke(id: string): Promise<RunnerRow> {
    const t = this.now();
    await this.db.updateTable('runners').set({ state: 'revoked', revoked_at: t }).where('id', '=', id).where('state', '!=', 'revoked').execute();
    await this.db
      .updateTable('jobs')
      .set({ lease_expires_at: t, updated_at: t })
      .where('status', '=', 'running')
      .where('lease_owner', 'like', `runner:${id}:%`)
      .execute();
    return this.get(id);
  }

  /** Runners seen within `withinMs` that are not revoked (who could take a job now). */
  async connected(withinMs: number): Promise<RunnerRow[]> {
    return this.db
      .selectFrom('runners')
      .selectAll()
      .where('state', '!=', 'revoked')
      .where('last_seen_at', '>=', this.now() - withinMs)
      .execute();
  }
}
