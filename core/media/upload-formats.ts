/**
 * The files the upload page's picker offers, derived from the demuxers the probe opens
 * (SAFE_INPUT_FORMATS), so the page cannot offer what the server refuses or hide what it
 * takes. The page lists file extensions, not `video/*`/`audio/*`: a wildcard would offer
 * every image or playlist type the server turns away with E_NOT_MEDIA.
 */
import { SAFE_INPUT_FORMATS } from './ffmpeg.js';

/** File extensions (no dot) each accepted demuxer reads. */
export const DEMUXER_EXTENSIONS: Readonly<Record<string, readonly string[]>> = {
  mov: ['mp4', 'm4v', 'mov', 'm4a', '3gp', '3g2', 'mj2'],
  matroska: ['mkv', 'webm', 'mka'],
  avi: ['avi'],
  flv: ['flv'],
  mpegts: ['ts', 'mts', 'm2ts'],
  mpeg: ['mpg', 'mpeg', 'vob'],
  ogg: ['ogg', 'ogv', 'oga', 'opus'],
  asf: ['wmv', 'wma', 'asf'],
  mxf: ['mxf'],
  dv: ['dv'],
  gxf: ['gxf'],
  nut: ['nut'],
  wav: ['wav'],
  mp3: ['mp3'],
  aac: ['aac'],
  flac: ['flac'],
  aiff: ['aif', 'aiff'],
  caf: ['caf'],
};

/**
 * The extensions of every demuxer in `formats`. A demuxer without an entry above adds none
 * (test/unit/upload-formats.test.ts fails then, naming it).
 */
export function uploadExtensions(formats: readonly string[] = SAFE_INPUT_FORMATS): string[] {
  return [...new Set(formats.flatMap((format) => DEMUXER_EXTENSIONS[format] ?? []))];
}

/** The upload input's `accept` attribute: ".mp4,.m4v,…". */
export function uploadAccept(formats: readonly string[] = SAFE_INPUT_FORMATS): string {
  return uploadExtensions(formats)
    .map((extension) => `.${extension}`)
    .join(',');
}
