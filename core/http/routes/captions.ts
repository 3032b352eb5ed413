/**
 * /v1/videos/:id/captions: caption tracks (API.md "captions"). A track arrives as JSON
 * (`text`) or multipart/form-data (`file`), WebVTT or SRT (stored as WebVTT), and is
 * published for the served version at once: new caption files and a new master revision,
 * no re-encode. `POST …/captions/generate` queues automatic captions.
 */
import type { Router } from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { CaptionCatalog, type CaptionInput } from '../../captions/caption-catalog.js';
import { MAX_CAPTION_BYTES, parseCaptions, writeWebVtt } from '../../captions/cues.js';
import { publishTextTracks } from '../../captions/text-track-publisher.js';
import { AppError } from '../../errors.js';
import { isId } from '../../ids.js';
import type { Services } from '../../services.js';
import type { CaptionRow } from '../../storage/metadata-db.js';
import { readJson } from '../body.js';
import type { AppState } from '../context.js';
import { videoLoaders, videoViewer } from './videos.js';

/** A BCP 47 tag in its canonical form ("en-us" → "en-US"); refused when it is not one. */
const language = z
  .string()
  .trim()
  .min(2)
  .max(35)
  .transform((tag, ctx) => {
    try {
      return Intl.getCanonicalLocales(tag)[0]!;
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${tag}" is not a BCP 47 language tag` });
      return z.NEVER;
    }
  });

const fields = z.object({
  language,
  label: z.string().trim().min(1).max(100).optional(),
  kind: z.enum(['subtitles', 'captions']).default('subtitles'),
  text: z.string().min(1).max(MAX_CAPTION_BYTES).optional(),
});

const generateBody = z.object({ language: language.optional() }).strict();

/** "English" for "en", the tag itself when Intl does not know it. */
function languageName(tag: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(tag) ?? tag;
  } catch {
    return tag;
  }
}

/** The body's fields and caption text, from JSON or multipart/form-data. */
async function readCaptionBody(ctx: Context, textRequired: boolean): Promise<Partial<z.infer<typeof fields>> & { text?: string }> {
  const type = ctx.get('content-type');
  let raw: Record<string, unknown>;
  if (/^multipart\/form-data/i.test(type)) {
    if (Number(ctx.get('content-length')) > MAX_CAPTION_BYTES + 64 * 1024) throw new AppError('E_TOO_LARGE', 'a caption file is at most 2 MiB');
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of ctx.req) {
      size += (chunk as Buffer).length;
      if (size > MAX_CAPTION_BYTES + 64 * 1024) {
        ctx.set('Connection', 'close');
        throw new AppError('E_TOO_LARGE', 'a caption file is at most 2 MiB');
      }
      chunks.push(chunk as Buffer);
    }
    let form: FormData;
    try {
      form = await new Response(Buffer.concat(chunks), { headers: { 'content-type': type } }).formData();
    } catch {
      throw new AppError('E_BAD_REQUEST', 'the multipart body could not be read');
    }
    raw = {};
    const entries: [string, FormDataEntryValue][] = [];
    form.forEach((value, key) => entries.push([key, value]));
    // The file part is the caption text; the other parts are fields.
    for (const [key, value] of entries) raw[key === 'file' ? 'text' : key] = typeof value === 'string' ? value : await value.text();
  } else {
    raw = (await readJson(ctx)) as Record<string, unknown>;
  }
  const schema = textRequired ? fields.required({ text: true }) : fields.partial();
  return schema.parse(raw);
}

export function captionRoutes(router: Router<AppState>, s: Services): void {
  const { loadVisible, loadManaged } = videoLoaders(s);
  const captions = new CaptionCatalog(s.db.db);
  const view = videoViewer(s);

  /** A caption as the API shows it: the video's view has the published URLs. */
  const captionView = async (videoId: string, id: string, ip: string) => {
    const video = await view(await s.catalog.get(videoId), ip);
    const found = video.captions.find((c) => c.id === id);
    if (!found) throw new AppError('E_NOT_FOUND', `caption ${id} not found`);
    return found;
  };
  const toVtt = (text: string) => writeWebVtt(parseCaptions(text));
  const checkCaptionId = (id: string) => {
    if (!isId(id)) throw new AppError('E_NOT_FOUND', `caption ${id} not found`);
    return id;
  };

  router.get('/v1/videos/:id/captions', async (ctx) => {
    const row = await loadVisible(ctx.params.id!, ctx.state.principal);
    ctx.body = { items: (await view(row, ctx.ip)).captions };
  });

  router.get('/v1/videos/:id/captions/:caption_id', async (ctx) => {
    const row = await loadVisible(ctx.params.id!, ctx.state.principal);
    ctx.body = await captionView(row.id, checkCaptionId(ctx.params.caption_id!), ctx.ip);
  });

  router.post('/v1/videos/:id/captions', async (ctx) => {
    const row = await loadManaged(ctx.params.id!, ctx.state.principal);
    const body = await readCaptionBody(ctx, true);
    const input: CaptionInput = {
      language: body.language!,
      label: body.label ?? languageName(body.language!),
      kind: body.kind ?? 'subtitles',
      auto: false,
      vtt: toVtt(body.text!),
    };
    const created = await captions.create(row.id, input);
    await publishTextTracks(s, row.id);
    s.logger.info({ video_id: row.id, caption_id: created.id, language: created.language }, 'caption added');
    ctx.status = 201;
    ctx.body = await captionView(row.id, created.id, ctx.ip);
  });

  // Replace: a new file and/or new language, label or kind (fields left out stay).
  router.put('/v1/videos/:id/captions/:caption_id', async (ctx) => {
    const row = await loadManaged(ctx.params.id!, ctx.state.principal);
    const id = checkCaptionId(ctx.params.caption_id!);
    await captions.get(row.id, id);
    const body = await readCaptionBody(ctx, false);
    const update: Partial<Pick<CaptionRow, 'language' | 'label' | 'kind' | 'vtt'>> = {};
    if (body.language !== undefined) update.language = body.language;
    if (body.label !== undefined) update.label = body.label;
    if (body.kind !== undefined) update.kind = body.kind;
    if (body.text !== undefined) update.vtt = toVtt(body.text);
    await captions.update(row.id, id, update);
    await publishTextTracks(s, row.id);
    s.logger.info({ video_id: row.id, caption_id: id }, 'caption replaced');
    ctx.body = await captionView(row.id, id, ctx.ip);
  });

  router.delete('/v1/videos/:id/captions/:caption_id', async (ctx) => {
    const row = await loadManaged(ctx.params.id!, ctx.state.principal);
    const id = checkCaptionId(ctx.params.caption_id!);
    await captions.delete(row.id, id);
    await publishTextTracks(s, row.id);
    s.logger.info({ video_id: row.id, caption_id: id }, 'caption deleted');
    ctx.status = 204;
  });

  router.post('/v1/videos/:id/captions/generate', async (ctx) => {
    const row = await loadManaged(ctx.params.id!, ctx.state.principal);
    const body = generateBody.parse(await readJson(ctx));
    const { engine, languages } = s.config.transcription;
    if (engine === 'none' && !s.plugins.has('filter:captions.transcribe')) {
      throw new AppError('E_CONFLICT', 'automatic captions are off on this server (transcription.engine is none)');
    }
    const lang = body.language ?? languages[0]!;
    if (!languages.some((l) => l.toLowerCase() === lang.toLowerCase())) {
      throw new AppError('E_BAD_REQUEST', `the transcription engine is configured for ${languages.join(', ')}, not ${lang}`);
    }
    if (row.current_version === 0 || row.status !== 'ready') throw new AppError('E_CONFLICT', 'the video is not ready yet; automatic captions follow its processing');
    // An explicit request regenerates: the existing automatic track is replaced by the job.
    const job = await s.queue.enqueue('captions.generate', { videoId: row.id, language: lang }, { videoId: row.id });
    s.logger.info({ video_id: row.id, job_id: job.id, language: lang }, 'automatic captions requested');
    ctx.status = 202;
    ctx.body = { job_id: job.id, language: lang, status: 'queued' };
  });
}
