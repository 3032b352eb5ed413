/**
 * The parts of a chunked transcode as they sit in a version's staging (core/jobs/chunked.ts):
 * their summaries read back, each rendition joined over the chunks (tfdt continuity and
 * identical init segments checked, core/media/chunk-join.ts), and the media playlists and
 * master written over them. vod.finish does it over every chunk (VOD playlists, the MPD);
 * instant publish does it after each part over the chunks done from chunk 0 on (growing
 * EVENT playlists), so the start of a long video plays while the rest encodes.
 */
import { AppError } from '../errors.js';
import { ChunkJoinError, assertSameInit, joinRendition } from '../media/chunk-join.js';
import { chunkSummaryKey, partName, type ChunkSummary } from '../media/chunk-plan.js';
import { ladderLayout, ladderManifests, MPD_FILE, type MeasuredRendition } from '../media/ladder-manifests.js';
import { buildVodPlaylist, growingPlaylist } from '../media/playlists.js';
import { MASTER_PLAYLIST, MEDIA_PLAYLIST } from '../media/transcode-command.js';
import type { ProbeResult, Rung } from '../media/types.js';
import type { Services } from '../services.js';
import { objectKeys } from '../storage/object-store.js';

export interface StagedTarget {
  videoId: string;
  version: number;
  ladder: Rung[];
  probe: ProbeResult;
}

export interface JoinedParts {
  audio: ChunkSummary;
  /** The video chunks joined, from chunk 0. */
  video: ChunkSummary[];
  manifests: ReturnType<typeof ladderManifests>;
}

async function readObject(s: Services, key: string): Promise<Buffer | undefined> {
  const found = await s.store.get(key);
  if (!found) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of found.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const videoPart = (index: number) => ({ kind: 'video', index, start_s: 0, end_s: null, first_segment: 0, first_frame: 0 }) as const;

/**
 * Joins the parts in staging and writes the playlists and master over them. `final`: every
 * one of `chunks` must be there (a missing part or a join that does not hold throws
 * E_TRANSCODE_FAILED) and the playlists are VOD, with the MPD. Otherwise (instant publish):
 * the chunks done from 0 on, growing playlists, no MPD; null until the audio part and chunk 0
 * are both done.
 */
export async function joinStagedParts(s: Services, target: StagedTarget, mode: { final: true; chunks: number } | { final: false }): Promise<JoinedParts | null> {
  const { store, config } = s;
  const staging = objectKeys.staging(target.videoId, target.version);
  const summary = async (key: string): Promise<ChunkSummary | undefined> => {
    const body = await readObject(s, staging + key);
    return body && (JSON.parse(body.toString('utf8')) as ChunkSummary);
  };
  const missing = (what: string) => new AppError('E_TRANSCODE_FAILED', `a part's output is missing: ${what}`);
  const audio = await summary(chunkSummaryKey({ kind: 'audio' }));
  if (!audio) {
    if (mode.final) throw missing('the audio part');
    return null;
  }
  const video: ChunkSummary[] = [];
  for (let index = 0; !mode.final || index < mode.chunks; index++) {
    const found = await summary(chunkSummaryKey(videoPart(index)));
    if (!found && mode.final) throw missing(`chunk ${index}`);
    if (!found) break;
    video.push(found);
  }
  if (video.length === 0) return null;
  const layout = ladderLayout({
    ladder: target.ladder,
    probe: target.probe,
    audioKbps: config.transcode.audio_kbps,
    maxAudioTracks: config.transcode.max_audio_tracks,
    segmentSeconds: config.transcode.segment_s,
    maxFps: config.transcode.max_fps,
  });
  const measured = new Map<string, MeasuredRendition>();
  try {
    for (const rung of layout.video) {
      const parts = video.map((v) => v.renditions.find((r) => r.name === rung.name));
      if (parts.some((p) => !p)) throw new AppError('E_TRANSCODE_FAILED', `a chunk has no ${rung.name} rendition`);
      const joined = joinRendition(parts as MeasuredRendition[]);
      measured.set(rung.name, joined);
      const inits = await Promise.all(video.map(async (v) => (await readObject(s, `${staging}chunks/${partName(v.part)}/${rung.name}/${joined.initUri}`)) ?? Buffer.alloc(0)));
      assertSameInit(rung.name, inits);
      await store.put(`${staging}${rung.name}/${joined.initUri}`, inits[0]!);
    }
    for (const a of audio.renditions) measured.set(a.name, joinRendition([a]));
  } catch (err) {
    if (err instanceof ChunkJoinError) throw new AppError('E_TRANSCODE_FAILED', `the chunks do not join: ${err.message}`);
    throw err;
  }
  for (const m of measured.values()) {
    const vod = buildVodPlaylist(m.initUri, m.segments.map((seg) => ({ uri: seg.uri, duration: seg.duration })));
    const text = mode.final ? vod : growingPlaylist(vod.replace('#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-PLAYLIST-TYPE:EVENT').replace('#EXT-X-ENDLIST\n', ''));
    await store.put(`${staging}${m.name}/${MEDIA_PLAYLIST}`, text);
  }
  const manifests = ladderManifests(layout, measured);
  // The master last: a player never sees it before the playlists it names.
  if (mode.final) await store.put(staging + MPD_FILE, manifests.mpd);
  await store.put(staging + MASTER_PLAYLIST, manifests.master);
  return { audio, video, manifests };
}
