/**
 * The packager's journal: what a live has published, appended line by line to
 * data_dir/live/{id}/journal.ndjson as it happens, so that a media process started after
 * one that died (or was restarted) mid-broadcast can take the live over: its timeline,
 * runs and dropped renditions are rebuilt by replaying the journal, the publisher may come
 * back within `live.reconnect_window_s`, and a recording still becomes a VOD.
 *
 * Append-only: a segment costs one short line, however long the live; a line torn by the
 * crash is the last one and is skipped. Segments are journaled after their files are in
 * the store, so everything replayed can be served.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LiveRung } from './live-command.js';
import type { TimelineSegment } from './live-playlists.js';

/** A run as journaled: what its playlists and master need (not its input). */
export interface JournaledRun {
  run: number;
  ladder: LiveRung[];
  hasAudio: boolean;
  fps: number;
  ingestKbps: number;
}

export type JournalEntry =
  | { t: 'run'; run: JournaledRun }
  | { t: 'segment'; dir: string; segment: TimelineSegment }
  | { t: 'dropped'; name: string; standIn: string };

export const JOURNAL_FILE = 'journal.ndjson';

export class LiveJournal {
  private writing: Promise<void> = Promise.resolve();
  private readonly file: string;

  /** `onError`: a write failed. The live goes on without it; only a takeover would know less. */
  constructor(
    workDir: string,
    private readonly onError: (err: unknown) => void,
  ) {
    this.file = join(workDir, JOURNAL_FILE);
  }

  /** Appends in call order. */
  append(entry: JournalEntry): void {
    const line = `${JSON.stringify(entry)}\n`;
    this.writing = this.writing.then(() => appendFile(this.file, line)).catch(this.onError);
  }

  /** Resolves once every entry appended so far is written (or has failed). */
  flush(): Promise<void> {
    return this.writing;
  }

  /** The entries of a journal left by an earlier process; [] when there is none. */
  async read(): Promise<JournalEntry[]> {
    const text = await readFile(this.file, 'utf8').catch(() => '');
    const entries: JournalEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        entries.push(JSON.parse(line) as JournalEntry);
      } catch {
        break; // torn by the crash: nothing after it was written
      }
    }
    return entries;
  }
}
