/*
 * Caption text: WebVTT and SRT read into cues, and cues written back as WebVTT.
 *
 * Both readers are strict where a player would silently lose text (a cue whose timing line
 * does not parse, an end before its start) and refuse with E_BAD_REQUEST naming the line,
 * so the uploader learns what to fix instead of finding half a track on the watch page.
 * What players ignore anyway (NOTE blocks, STYLE/REGION blocks, cue settings) is kept or
 * passed over as WebVTT allows. SRT's few HTML-ish tags (<i>, <b>, <u>) are WebVTT tags
 * too; <font> is dropped (WebVTT has no such tag).
 */
import { AppError } from '../errors.js';

/** One cue, times in milliseconds from the start of the video. */
export interface Cue {
  startMs: number;
  endMs: number;
  /** Cue text, lines joined by \n (WebVTT cue text markup allowed). */
  text: string;
  /** WebVTT cue identifier, when the source had one. */
  id?: string;
  /** WebVTT cue settings ("line:0 align:start"), kept as written. */
  settings?: string;
}

/** A caption file's format. */
export type CaptionFormat = 'webvtt' | 'srt';

/** Largest caption file taken (a feature film's subtitles are ~100 KB). */
export const MAX_CAPTION_BYTES = 2 * 1024 * 1024;

const VTT_TIME = /^(?:(\d{1,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$/;
const SRT_TIME = /^(\d{1,}):([0-5]\d):([0-5]\d)[,.](\d{1,3})$/;

function badLine(line: number, what: string): AppError {
  return new AppError('E_BAD_REQUEST', `caption file, line ${line}: ${what}`);
}

function vttTime(text: string): number | undefined {
  const m = VTT_TIME.exec(text);
  if (!m) return undefined;
  return ((Number(m[1] ?? 0) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
}

function srtTime(text: string): number | undefined {
  const m = SRT_TIME.exec(text);
  if (!m) return undefined;
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]!.padEnd(3, '0'));
}

/** Splits into lines (CRLF, CR or LF), without a BOM. */
function lines(text: string): string[] {
  return text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
}

/** Blocks of non-empty lines with the 1-based number of their first line. */
function blocks(all: string[], from: number): { line: number; lines: string[] }[] {
  const out: { line: number; lines: string[] }[] = [];
  let current: { line: number; lines: string[] } | undefined;
  for (let i = from; i < all.length; i++) {
    const l = all[i]!;
    if (l.trim() === '') {
      current = undefined;
      continue;
    }
    if (!current) {
      current = { line: i + 1, lines: [] };
      out.push(current);
    }
    current.lines.push(l);
  }
  return out;
}

function timing(text: string, line: number, parse: (t: string) => number | undefined): { startMs: number; endMs: number; settings: string } {
  const m = /^\s*(\S+)\s+-->\s+(\S+)(.*)$/.exec(text);
  if (!m) throw badLine(line, `expected a cue timing "00:00:01.000 --> 00:00:02.000", found "${text.slice(0, 80)}"`);
  const startMs = parse(m[1]!);
  const endMs = parse(m[2]!);
  if (startMs === undefined) throw badLine(line, `"${m[1]}" is not a timestamp`);
  if (endMs === undefined) throw badLine(line, `"${m[2]}" is not a timestamp`);
  if (endMs <= startMs) throw badLine(line, 'the cue ends before it starts');
  return { startMs, endMs, settings: m[3]!.trim() };
}

/** Reads a WebVTT file; throws E_BAD_REQUEST naming the first line it cannot take. */
export function parseWebVtt(text: string): Cue[] {
  const all = lines(text);
  if (!/^WEBVTT(?:[ \t].*)?$/.test(all[0] ?? '')) throw badLine(1, 'a WebVTT file starts with "WEBVTT"');
  const cues: Cue[] = [];
  // The header runs to the first blank line.
  let i = 1;
  while (i < all.length && all[i]!.trim() !== '') i++;
  for (const block of blocks(all, i)) {
    const head = block.lines[0]!;
    if (/^(NOTE|STYLE|REGION)(?:[ \t]|$)/.test(head)) continue;
    const arrowAt = block.lines.findIndex((l) => l.includes('-->'));
    if (arrowAt < 0 || arrowAt > 1) throw badLine(block.line, `expected a cue timing "00:00:01.000 --> 00:00:02.000", found "${head.slice(0, 80)}"`);
    const t = timing(block.lines[arrowAt]!, block.line + arrowAt, vttTime);
    const cue: Cue = { startMs: t.startMs, endMs: t.endMs, text: block.lines.slice(arrowAt + 1).join('\n') };
    if (arrowAt === 1) cue.id = head;
    if (t.settings) cue.settings = t.settings;
    cues.push(cue);
  }
  return cues;
}

/** Reads an SRT file; throws E_BAD_REQUEST naming the first line it cannot take. */
export function parseSrt(text: string): Cue[] {
  const cues: Cue[] = [];
  for (const block of blocks(lines(text), 0)) {
    let at = 0;
    if (/^\d+$/.test(block.lines[0]!.trim())) at = 1;
    const timingLine = block.lines[at];
    if (timingLine === undefined || !timingLine.includes('-->')) {
      throw badLine(block.line + at, `expected a cue number and "00:00:01,000 --> 00:00:02,000", found "${(timingLine ?? block.lines[0]!).slice(0, 80)}"`);
    }
    const t = timing(timingLine, block.line + at, srtTime);
    const body = block.lines.slice(at + 1).join('\n').replace(/<\/?font[^>]*>/gi, '');
    cues.push({ startMs: t.startMs, endMs: t.endMs, text: body });
  }
  if (cues.length === 0) throw badLine(1, 'no cue found');
  return cues;
}

/** WebVTT when the text says so, else SRT. */
export function detectFormat(text: string): CaptionFormat {
  return /^\uFEFF?WEBVTT/.test(text) ? 'webvtt' : 'srt';
}

const readers: { [f in CaptionFormat]: (text: string) => Cue[] } = { webvtt: parseWebVtt, srt: parseSrt };

/** Cues of a caption file in either format, in start order. */
export function parseCaptions(text: string): Cue[] {
  if (text.includes('\0')) throw badLine(1, 'the file is binary, not text');
  return readers[detectFormat(text)](text).sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs);
}

/** 00:01:02.345 */
export function formatVttTime(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor(total / 60_000) % 60;
  const s = Math.floor(total / 1000) % 60;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(total % 1000, 3)}`;
}

/** Cue text never holds a blank line or "-->" (either would end or break the cue). */
function safeText(text: string): string {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .join('\n')
    .replaceAll('-->', '--&gt;');
}

/** The cues as one WebVTT cue block each. */
export function cueBlocks(cues: readonly Cue[]): string[] {
  return cues.map((c) => {
    const id = c.id && !c.id.includes('-->') ? `${c.id}\n` : '';
    const settings = c.settings ? ` ${c.settings}` : '';
    return `${id}${formatVttTime(c.startMs)} --> ${formatVttTime(c.endMs)}${settings}\n${safeText(c.text)}`;
  });
}

/** A WebVTT file of the cues; `headers` go on the lines after "WEBVTT" (e.g. X-TIMESTAMP-MAP). */
export function writeWebVtt(cues: readonly Cue[], headers: readonly string[] = []): string {
  return [['WEBVTT', ...headers].join('\n'), ...cueBlocks(cues)].join('\n\n') + '\n';
}
