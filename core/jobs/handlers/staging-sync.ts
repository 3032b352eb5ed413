/**
 * Instant publish: copies what ffmpeg has finished into the version's staging prefix while
 * the ladder still encodes, so the video plays seconds after its upload. Segments go first,
 * then each media playlist (made "growing": starts at 0), then the master once every
 * rendition has a segment: a player never sees a playlist that names a missing file.
 * The master is ours (ladder-manifests.ts), from the layout and the segments written so far,
 * so it carries the same attributes as the final one; its bit rates are those of the first
 * segments until the finished master replaces it at publish.
 */
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { hlsMasterFromFiles, layoutPlaylists, type LadderLayout } from '../../media/ladder-manifests.js';
import { growingPlaylist, parseMediaPlaylist } from '../../media/playlists.js';
import type { ObjectStore } from '../../storage/object-store.js';

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

export class StagingSync {
  /** Files (relative to the version root) already in staging. */
  readonly copied = new Set<string>();
  /** Media playlists as last written to staging: an unchanged one is not written again. */
  private readonly written = new Map<string, string>();
  private playable = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly workDir: string,
    private readonly stagingPrefix: string,
    private readonly layout: LadderLayout,
  ) {}

  /**
   * One pass. `playable` once the master is in staging (every rendition has a first
   * segment); `encodedMs` is how much of the source the slowest rendition has finished, a
   * progress measure that does not depend on ffmpeg's own reports.
   */
  async tick(): Promise<{ playable: boolean; encodedMs: number }> {
    const uris = layoutPlaylists(this.layout);
    let everyRenditionStarted = uris.length > 0;
    let encodedMs = Infinity;
    for (const uri of uris) {
      const text = await readIfExists(join(this.workDir, uri));
      const playlist = text ? parseMediaPlaylist(text) : undefined;
      if (!text || !playlist || playlist.segments.length === 0) {
        everyRenditionStarted = false;
        encodedMs = 0;
        continue;
      }
      encodedMs = Math.min(encodedMs, Math.round(playlist.segments.reduce((sum, seg) => sum + seg.duration, 0) * 1000));
      const dir = posix.dirname(uri);
      for (const file of [playlist.initUri, ...playlist.segments.map((s) => s.uri)]) {
        if (!file) continue;
        const rel = posix.normalize(posix.join(dir, file));
        if (this.copied.has(rel)) continue;
        await this.store.putFile(this.stagingPrefix + rel, join(this.workDir, rel));
        this.copied.add(rel);
      }
      if (this.written.get(uri) !== text) {
        await this.store.put(this.stagingPrefix + uri, growingPlaylist(text));
        this.written.set(uri, text);
      }
    }
    if (everyRenditionStarted && !this.playable) {
      // Measured from the work dir, whose playlists may have grown since they were copied:
      // the master names only playlists, which are all in staging now.
      const master = await hlsMasterFromFiles(this.workDir, this.layout);
      if (master) {
        await this.store.put(`${this.stagingPrefix}master.m3u8`, master);
        this.playable = true;
      }
    }
    return { playable: this.playable, encodedMs: Number.isFinite(encodedMs) ? encodedMs : 0 };
  }
}
