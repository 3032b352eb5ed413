/*
 * Publishes a video's captions and chapters for the version it serves, without re-encoding
 * and without changing any published URL's bytes:
 *
 *   cc-{hash}.vtt, cc-{hash}/index.m3u8, cc-{hash}/00000.vtt …   one caption (content-addressed)
 *   chapters-{hash}.vtt                                           the chapters track
 *   master-{rev}.m3u8, master-{rev}.mpd, manifest-{rev}.json      a master revision naming them
 *
 * all under the version's immutable prefix. A chosen poster (core/catalog/posters.ts) makes a
 * revision too, so that the manifest the video points at names it. `videos.text_tracks` records what is published
 * (PublishedTextTracks); the video's playback URLs point at the newest revision, so a player
 * or CDN holding an older master keeps a consistent set, and each change gets new URLs as a
 * new version would. Runs after every caption or chapter change and when a new version
 * becomes the served one; a lease per video keeps two publishes from interleaving.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AUTOMATIC_POSTER, posterFile } from '../catalog/posters.js';
import { mediaBase } from '../catalog/videos.js';
import type { MediaManifest } from '../media/types.js';
import { readInitTimescale, readSegmentTiming } from '../media/fmp4.js';
import { parseMediaPlaylist } from '../media/playlists.js';
import type { Services } from '../services.js';
import type { VideoRow } from '../storage/metadata-db.js';
import { objectKeys, type ObjectStore } from '../storage/object-store.js';
import { CaptionCatalog } from './caption-catalog.js';
import { chapterCues, storedChapters, type Chapter } from './chapters.js';
import { parseWebVtt, writeWebVtt } from './cues.js';
import {
  cueSegmentName,
  firstVariantUri,
  masterWithSubtitles,
  mpdWithTextTracks,
  segmentCues,
  segmentSpans,
  subtitlePlaylist,
  timestampMap,
  type PublishedTrack,
} from './text-tracks.js';

/** A caption as `videos.text_tracks` lists it. */
export interface PublishedCaption {
  id: string;
  language: string;
  label: string;
  kind: 'subtitles' | 'captions';
  auto: boolean;
  /** Whole WebVTT file under the version root; null while no version is served. */
  file: string | null;
}

/** What `videos.text_tracks` holds. */
export interface PublishedTextTracks {
  /** The served version the files below belong to (0: none yet). */
  version: number;
  /** Suffix of master-{rev}.m3u8 / .mpd and manifest-{rev}.json; null: the plain master. */
  revision: string | null;
  captions: PublishedCaption[];
  /** The WebVTT chapters track under the version root, when the video has chapters. */
  chapters_file: string | null;
}

export function storedTextTracks(json: string | null | undefined): PublishedTextTracks | undefined {
  return json ? (JSON.parse(json) as PublishedTextTracks) : undefined;
}

function shortHash(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 12);
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function readObject(store: ObjectStore, key: string): Promise<Buffer | undefined> {
  const obj = await store.get(key);
  return obj ? readAll(obj.body) : undefined;
}

/** The segment timeline and X-TIMESTAMP-MAP of a published version (its first variant's). */
async function videoTimeline(store: ObjectStore, prefix: string, master: string): Promise<{ spans: ReturnType<typeof segmentSpans>; map: string }> {
  const variant = firstVariantUri(master);
  if (!variant) throw new Error('the master lists no variant');
  const dir = variant.includes('/') ? variant.slice(0, variant.lastIndexOf('/') + 1) : '';
  const text = (await readObject(store, prefix + variant))?.toString('utf8');
  if (!text) throw new Error(`the media playlist ${variant} is missing`);
  const playlist = parseMediaPlaylist(text);
  const init = playlist.initUri ? await readObject(store, prefix + dir + playlist.initUri) : undefined;
  const first = playlist.segments[0] ? await store.get(prefix + dir + playlist.segments[0].uri, { start: 0, end: 64 * 1024 - 1 }) : undefined;
  const timing = first ? readSegmentTiming(await readAll(first.body)) : null;
  const timescale = (init && readInitTimescale(init)) || 90_000;
  return { spans: segmentSpans(text), map: timestampMap(timing?.start ?? 0, timescale) };
}

/** Writes one caption's files unless this version has them already (same text, same names). */
async function putCaption(store: ObjectStore, prefix: string, name: string, vtt: string, timeline: Awaited<ReturnType<typeof videoTimeline>>): Promise<void> {
  // The whole file goes last: its presence says the segments are complete.
  if (await store.head(`${prefix}${name}.vtt`)) return;
  const cues = parseWebVtt(vtt);
  const segments = segmentCues(cues, timeline.spans, timeline.map);
  for (const [i, text] of segments.entries()) await store.put(`${prefix}${name}/${cueSegmentName(i)}`, text);
  await store.put(`${prefix}${name}/index.m3u8`, subtitlePlaylist(timeline.spans));
  await store.put(`${prefix}${name}.vtt`, vtt);
}

/** Where a version's files are served from, absolute under `public_url` when it is set. */
function mediaUrlBase(s: Pick<Services, 'config'>, videoId: string, version: number): string {
  return `${s.config.public_url.replace(/\/$/, '')}${mediaBase(videoId, version)}`;
}

/** media_manifest.json of a master revision: the version's, with its text tracks and poster (a file under the version). */
export function manifestWithTextTracks(manifest: MediaManifest, published: PublishedTextTracks, chapters: Chapter[], base: string, poster: string): MediaManifest {
  const revision = published.revision ? `-${published.revision}` : '';
  return {
    ...manifest,
    hls_url: `${base}master${revision}.m3u8`,
    poster_url: `${base}${poster}`,
    dash_url: manifest.dash_url ? `${base}master${revision}.mpd` : null,
    captions: published.captions.map(({ file, ...c }) => ({ ...c, url: file ? `${base}${file}` : null })),
    chapters,
    chapters_vtt_url: published.chapters_file ? `${base}${published.chapters_file}` : null,
  };
}

/** The served version's manifest with the video's published text tracks and chosen poster (GET …/manifest). */
export function servedManifest(s: Pick<Services, 'config'>, video: VideoRow, manifest: MediaManifest): MediaManifest {
  const published = storedTextTracks(video.text_tracks);
  const base = mediaUrlBase(s, video.id, manifest.version);
  const poster = posterFile(video, manifest.version);
  if (!published || published.version !== manifest.version) return poster === AUTOMATIC_POSTER ? manifest : { ...manifest, poster_url: `${base}${poster}` };
  return manifestWithTextTracks(manifest, published, storedChapters(video.chapters), base, poster);
}

const LEASE_MS = 60_000;
const LEASE_WAIT_MS = 30_000;

/** Holds the per-video publish lease while `work` runs. */
async function withPublishLease<T>(s: Services, videoId: string, work: () => Promise<T>): Promise<T> {
  const name = `text-tracks:${videoId}`;
  const owner = `${process.pid}:${Math.random().toString(36).slice(2)}`;
  const deadline = Date.now() + LEASE_WAIT_MS;
  while (!(await s.db.acquireLease(name, owner, LEASE_MS, Date.now()))) {
    if (Date.now() > deadline) throw new Error(`another process holds ${name}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    return await work();
  } finally {
    await s.db.releaseLease(name, owner);
  }
}

/**
 * Writes the captions and chapters of a video for its served version (if it has one) and
 * records them in `videos.text_tracks`. Idempotent; a video without a ready version only
 * records its tracks (they are written when a version is published).
 */
export async function publishTextTracks(
  s: Services,
  videoId: string,
  /** A version about to be published (its files are in place, its row not yet ready): publish for it instead. */
  upcoming?: { version: number; manifest: MediaManifest },
): Promise<PublishedTextTracks | undefined> {
  return withPublishLease(s, videoId, async () => {
    const video = await s.catalog.find(videoId);
    if (!video) return undefined;
    const captions = await new CaptionCatalog(s.db.db).list(videoId);
    const chapters: Chapter[] = storedChapters(video.chapters);
    const version = upcoming ? undefined : video.current_version > 0 ? await s.catalog.version(videoId, video.current_version) : undefined;
    const manifest = upcoming?.manifest ?? (version?.status === 'ready' && version.manifest ? (JSON.parse(version.manifest) as MediaManifest) : undefined);
    const published: PublishedTextTracks = {
      version: upcoming?.version ?? (manifest ? video.current_version : 0),
      revision: null,
      captions: captions.map((c) => ({ id: c.id, language: c.language, label: c.label, kind: c.kind, auto: c.auto === 1, file: null })),
      chapters_file: null,
    };
    const poster = posterFile(video, published.version);
    if (manifest && (captions.length > 0 || chapters.length > 0 || poster !== AUTOMATIC_POSTER)) {
      const prefix = objectKeys.media(videoId, published.version);
      const master = (await readObject(s.store, `${prefix}master.m3u8`))?.toString('utf8');
      if (!master) throw new Error(`version ${published.version} of ${videoId} has no master playlist`);
      const tracks: PublishedTrack[] = [];
      if (captions.length > 0) {
        const timeline = await videoTimeline(s.store, prefix, master);
        for (const [i, c] of captions.entries()) {
          const name = `cc-${shortHash(c.vtt)}`;
          await putCaption(s.store, prefix, name, c.vtt, timeline);
          published.captions[i]!.file = `${name}.vtt`;
          tracks.push({ language: c.language, label: c.label, kind: c.kind, playlistUri: `${name}/index.m3u8`, fileUri: `${name}.vtt` });
        }
      }
      if (chapters.length > 0) {
        const vtt = writeWebVtt(chapterCues(chapters, manifest.duration_ms));
        published.chapters_file = `chapters-${shortHash(vtt)}.vtt`;
        if (!(await s.store.head(prefix + published.chapters_file))) await s.store.put(prefix + published.chapters_file, vtt);
      }
      const masterRevision = masterWithSubtitles(master, tracks);
      const mpd = manifest.dash_url ? (await readObject(s.store, `${prefix}master.mpd`))?.toString('utf8') : undefined;
      const mpdRevision = mpd === undefined ? undefined : mpdWithTextTracks(mpd, tracks);
      const revision = shortHash(masterRevision, mpdRevision ?? '', published.chapters_file ?? '', JSON.stringify(published.captions), poster);
      published.revision = revision;
      const manifestRevision = manifestWithTextTracks(manifest, published, chapters, mediaUrlBase(s, videoId, published.version), poster);
      if (!(await s.store.head(`${prefix}master-${revision}.m3u8`))) {
        if (mpdRevision !== undefined) await s.store.put(`${prefix}master-${revision}.mpd`, mpdRevision);
        await s.store.put(`${prefix}manifest-${revision}.json`, JSON.stringify(manifestRevision, null, 2));
        await s.store.put(`${prefix}master-${revision}.m3u8`, masterRevision);
      }
    }
    await s.db.db.updateTable('videos').set({ text_tracks: JSON.stringify(published) }).where('id', '=', videoId).execute();
    s.logger.info({ video_id: videoId, version: published.version, revision: published.revision, captions: captions.length, chapters: chapters.length }, 'text tracks published');
    return published;
  });
}
