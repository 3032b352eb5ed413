/** Caption tracks of videos over the metadata seam (rows of `captions`; WebVTT text inside). */
import type { Kysely } from 'kysely';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import type { CaptionKind, CaptionRow, Database } from '../storage/metadata-db.js';

export interface CaptionInput {
  language: string;
  label: string;
  kind: CaptionKind;
  auto: boolean;
  vtt: string;
}

/** Most tracks one video may carry (every language of a well-subtitled film fits). */
export const MAX_CAPTIONS_PER_VIDEO = 50;

export class CaptionCatalog {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A video's tracks, oldest first (the order menus list them in). */
  async list(videoId: string): Promise<CaptionRow[]> {
    return this.db.selectFrom('captions').selectAll().where('video_id', '=', videoId).orderBy('created_at').orderBy('id').execute();
  }

  async get(videoId: string, id: string): Promise<CaptionRow> {
    const row = await this.db.selectFrom('captions').selectAll().where('video_id', '=', videoId).where('id', '=', id).executeTakeFirst();
    if (!row) throw new AppError('E_NOT_FOUND', `caption ${id} not found`);
    return row;
  }

  async create(videoId: string, input: CaptionInput): Promise<CaptionRow> {
    const count = await this.db
      .selectFrom('captions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('video_id', '=', videoId)
      .executeTakeFirstOrThrow();
    if (Number(count.n) >= MAX_CAPTIONS_PER_VIDEO) {
      throw new AppError('E_CONFLICT', `a video carries at most ${MAX_CAPTIONS_PER_VIDEO} caption tracks`);
    }
    const t = this.now();
    const row: CaptionRow = { id: newId(), video_id: videoId, ...input, auto: input.auto ? 1 : 0, created_at: t, updated_at: t };
    await this.db.insertInto('captions').values(row).execute();
    return row;
  }

  /** Changes a track's fields (a new text, a corrected label); an edited automatic track stays `auto`. */
  async update(videoId: string, id: string, fields: Partial<Omit<CaptionInput, 'auto'>>): Promise<CaptionRow> {
    await this.get(videoId, id);
    await this.db
      .updateTable('captions')
      .set({ ...fields, updated_at: this.now() })
      .where('video_id', '=', videoId)
      .where('id', '=', id)
      .execute();
    return this.get(videoId, id);
  }

  async delete(videoId: string, id: string): Promise<void> {
    const r = await this.db.deleteFrom('captions').where('video_id', '=', videoId).where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new AppError('E_NOT_FOUND', `caption ${id} not found`);
  }
}
