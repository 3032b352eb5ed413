/**
 * The player matrix's one ready video: a node with a small three-rung ladder and one ~7 s
 * clip with audio uploaded and processed, shared by every player in a test file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, tusUpload, waitForVideo } from './api.js';
import { makeClip } from './media-fixtures.js';
import { startServer, type TestServer } from './server.js';

/** A rendition as GET /v1/videos/:id lists it. */
export interface PlayedRendition {
  name: string;
  width: number;
  height: number;
  bitrate_kbps: number;
  codecs: string;
}

export interface PlayerFixture {
  server: TestServer;
  videoId: string;
  /** Absolute URLs of the HLS master and the MPD. */
  hlsUrl: string;
  dashUrl: string;
  duration_s: number;
  /** Renditions from the lowest to the highest. */
  renditions: PlayedRendition[];
  lowest: PlayedRendition;
  highest: PlayedRendition;
  close(): Promise<void>;
}

/** Small rungs keep the encode and every player quick; three of them make a real ladder. */
const LADDER = [
  { name: '144p', height: 144, video_kbps: 150 },
  { name: '240p', height: 240, video_kbps: 300 },
  { name: '360p', height: 360, video_kbps: 600 },
];

export async function startPlayerFixture(seconds = 7): Promise<PlayerFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'framecast-players-'));
  // ffmpeg makes the clip while the node starts.
  const clipMade = makeClip(dir, { width: 640, height: 360, seconds });
  clipMade.catch(() => undefined); // awaited below once the node is up
  const server = await startServer({ config: { transcode: { ladder: LADDER, storyboard: { interval_s: 2, tile_width: 160, columns: 4, rows: 1 } } } }).catch(
    async (err: unknown) => {
      await clipMade.catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      throw err;
    },
  );
  try {
    const clip = await clipMade;
    const upload = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', title: 'Player matrix' } });
    const video = await waitForVideo(api(server.url, server.adminToken), upload.videoId!);
    if (video.status !== 'ready') throw new Error(`the matrix video did not become ready: ${JSON.stringify(video.error)}`);
    const renditions = [...(video.renditions as PlayedRendition[])].sort((a, b) => a.height - b.height);
    return {
      server,
      videoId: upload.videoId!,
      hlsUrl: new URL(video.playback.hls_url, server.url).href,
      dashUrl: new URL(video.playback.dash_url, server.url).href,
      duration_s: video.duration_ms / 1000,
      renditions,
      lowest: renditions[0]!,
      highest: renditions[renditions.length - 1]!,
      async close() {
        await server.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
