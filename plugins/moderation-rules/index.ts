/**
 * Built-in plugin `moderation-rules`: refuses videos by simple rules, written against the
 * public plugin API like any third-party plugin.
 *
 *   plugins:
 *     - name: moderation-rules
 *       config:
 *         max_duration_s: 600          # longer sources fail with E_MODERATION_REJECTED
 *         min_resolution: 360          # sources whose short side is smaller fail
 *         banned_words: [spam, scam]   # titles containing one (whole word, any case) are refused
 *
 * Banned titles are refused twice: at upload creation (before any byte is stored) for the
 * title sent in the upload metadata, and when the source is inspected for the video's title.
 */
import type { PluginApi } from '../../core/plugins/plugin-api.js';

export interface ModerationRules {
  max_duration_s?: number;
  min_resolution?: number;
  banned_words?: string[];
}

/** Runs before other plugins' filters: a refused video need not be looked at further. */
const PRIORITY = 100;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The first banned word the title contains (as a whole word, ignoring case). */
export function bannedWordIn(title: string, words: readonly string[]): string | undefined {
  return words.find((w) => w.trim() !== '' && new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRegExp(w.trim())}($|[^\\p{L}\\p{N}])`, 'iu').test(title));
}

function rules(config: Readonly<Record<string, unknown>>): ModerationRules {
  const num = (v: unknown, key: string) => {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !(v > 0)) throw new Error(`moderation-rules: ${key} must be a positive number`);
    return v;
  };
  const words = config.banned_words;
  if (words !== undefined && !(Array.isArray(words) && words.every((w) => typeof w === 'string'))) {
    throw new Error('moderation-rules: banned_words must be a list of strings');
  }
  return { max_duration_s: num(config.max_duration_s, 'max_duration_s'), min_resolution: num(config.min_resolution, 'min_resolution'), banned_words: words as string[] | undefined };
}

export function register(api: PluginApi): void {
  const r = rules(api.config);
  const banned = r.banned_words ?? [];

  api.registerHook({
    target: 'filter:upload.accept',
    priority: PRIORITY,
    handler: (upload) => {
      const title = upload.metadata.title ?? upload.metadata.filename ?? '';
      const word = bannedWordIn(title, banned);
      if (word) throw api.reject(`the title contains a banned word ("${word}")`);
      return upload;
    },
  });

  api.registerHook({
    target: 'filter:video.inspected',
    priority: PRIORITY,
    handler: (value) => {
      const { video, probe } = value;
      const word = bannedWordIn(video.title, banned);
      if (word) throw api.reject(`the title contains a banned word ("${word}")`);
      if (r.max_duration_s !== undefined && probe.duration_ms > r.max_duration_s * 1000) {
        throw api.reject(`the video is ${(probe.duration_ms / 1000).toFixed(1)} s long; at most ${r.max_duration_s} s are allowed`);
      }
      const short = Math.min(probe.width, probe.height);
      if (r.min_resolution !== undefined && short < r.min_resolution) {
        throw api.reject(`the video is ${probe.width}x${probe.height}; at least ${r.min_resolution}p is required`);
      }
      return value;
    },
  });
  api.logger.info({ rules: r }, 'moderation rules active');
}
