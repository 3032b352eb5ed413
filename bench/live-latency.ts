/**
 * Live glass-to-glass latency: from the moment a frame is handed to the publisher's encoder
 * to the moment Chromium shows it on the product's live page (/live/:id: hls.js in
 * lowLatencyMode with the page's own settings and ABR), on a real node with the ABR ladder
 * encoding.
 *
 *   npm run bench:live-latency -- --ingest rtmp|srt|whip [--seconds 40 --warmup 10 --whip-height 720]
 *
 * RTMP and SRT: the publisher is this process. It draws each 1280x720 frame itself, with the
 * wall-clock millisecond it is sent stamped as a 32-bit barcode (one 40x40 block per bit,
 * white = 1) across the top, and pipes raw frames at 30 fps into ffmpeg, which encodes them
 * as OBS does (x264 veryfast zerolatency, CBR 2000 kbps, keyframe every 2 s) and publishes
 * them over RTMP (FLV) or SRT (MPEG-TS). A frame the encoder is not ready for is skipped,
 * as OBS skips frames when its encoder lags, and counted.
 * WHIP: a page in its own Chromium draws the same barcode on a canvas and publishes the
 * canvas and a tone with a small WHIP client (the browser's H.264 encoder).
 * The viewer reads the barcode of every frame the live page presents and subtracts it from
 * its clock (same machine, same clock).
 *
 * Also measured (RTMP, SRT): frame → part listed, when each part appears in the top
 * rendition's playlist (followed with blocking reloads) minus when its last frame was sent;
 * target ≤ part duration + 0.3 s. Both figures leave out the first `--warmup` seconds.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { FAKE_MEDIA_ARGS, launchBrowser } from '../test/helpers/browser.js';
import { api } from '../test/helpers/api.js';
import { sleep, waitForLive } from '../test/helpers/live.js';
import { startServer } from '../test/helpers/server.js';
import { fmt, markdownTable, verdict, writeResults } from './report.js';

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
const WIDTH = 1280;
const HEIGHT = 720;
const FPS = 30;
const BITS = 32;
const BLOCK = WIDTH / BITS;

/** A live as POST /v1/live returns it (the fields the ingests need). */
interface CreatedLive {
  id: string;
  stream_key: string;
  rtmp_url: string;
  srt_url?: string;
  whip_url?: string;
}

/** How ffmpeg publishes to the node with each protocol: its output arguments, or why not. */
const FFMPEG_INGESTS: Record<'rtmp' | 'srt', (live: CreatedLive) => string[] | string> = {
  rtmp: (live) => ['-f', 'flv', `${live.rtmp_url}/${live.stream_key}`],
  srt: (live) => (live.srt_url ? ['-f', 'mpegts', live.srt_url.includes('streamid=') ? live.srt_url : `${live.srt_url}?streamid=${live.stream_key}`] : 'this node has no SRT ingest (no srt_url)'),
};
/** WHIP is published by a page in the same Chromium (ffmpeg 5.1 has no WHIP muxer). */
const INGESTS = [...Object.keys(FFMPEG_INGESTS), 'whip'];

const { values: opts } = parseArgs({
  options: {
    ingest: { type: 'string', default: 'rtmp' },
    seconds: { type: 'string', default: '40' },
    warmup: { type: 'string', default: '10' },
    // WHIP: the browser's own H.264 encoder (OpenH264) at 720p costs a core here.
    'whip-height': { type: 'string', default: '720' },
  },
});
if (!INGESTS.includes(opts.ingest)) throw new Error(`--ingest: one of ${INGESTS.join(', ')}`);
const SECONDS = Number(opts.seconds);
const WARMUP_S = Number(opts.warmup);

/** One I420 frame: grey testcard, a moving bar (so the encoder has work), the stamp barcode. */
function frame(n: number, stamp: number): Buffer {
  const ySize = WIDTH * HEIGHT;
  const buf = Buffer.alloc(ySize * 1.5, 128);
  const bar = (n * 8) % WIDTH;
  for (let y = BLOCK * 2; y < HEIGHT; y++) buf.fill(200, y * WIDTH + bar, y * WIDTH + Math.min(WIDTH, bar + 60));
  for (let bit = 0; bit < BITS; bit++) {
    const on = (stamp >>> (BITS - 1 - bit)) & 1;
    for (let y = 0; y < BLOCK; y++) buf.fill(on ? 235 : 16, y * WIDTH + bit * BLOCK, y * WIDTH + (bit + 1) * BLOCK);
  }
  return buf;
}

/** Publishes stamped frames in real time until `stop`; resolves when ffmpeg exits. */
function publish(output: string[], signal: AbortSignal): { sent: Map<number, number>; exited: Promise<number | null> } {
  const args = [
    '-hide_banner', '-loglevel', 'error',
    '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${WIDTH}x${HEIGHT}`, '-r', String(FPS), '-i', 'pipe:0',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'high', '-pix_fmt', 'yuv420p',
    '-b:v', '2000k', '-maxrate', '2000k', '-bufsize', '2000k', '-g', String(FPS * 2), '-keyint_min', String(FPS * 2), '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
    // The tone never ends by itself: the publish ends with the frames.
    '-shortest',
    ...output,
  ];
  const child = spawn(FFMPEG, args, { stdio: ['pipe', 'ignore', 'inherit'] });
  child.stdin.on('error', () => undefined);
  const sent = new Map<number, number>();
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const start = performance.now();
  let n = 0;
  let skipped = 0;
  const next = () => {
    if (signal.aborted) {
      if (skipped > 0) console.error(`publisher: ${skipped} of ${n} frames skipped (encoder behind real time)`);
      child.stdin.end();
      return;
    }
    // An encoder that cannot keep up skips frames, as OBS does, instead of queueing them
    // (a queue would count the publisher's own backlog as the node's latency).
    if (child.stdin.writableLength === 0) {
      const stamp = Date.now() >>> 0;
      // Keyed by the frame's index in the encoder's input: its media time × FPS.
      sent.set(sent.size, Date.now());
      child.stdin.write(frame(n, stamp));
    } else skipped++;
    n++;
    // Paced on the schedule, not on the previous frame: no drift.
    setTimeout(next, Math.max(0, start + (n * 1000) / FPS - performance.now()));
  };
  next();
  return { sent, exited };
}

/**
 * The WHIP publisher: a page (on its own http://127.0.0.1 origin, a secure context) draws
 * each frame on a canvas with the same barcode, stamped when drawn, and sends the canvas
 * (captureStream, 30 fps) and a tone over WebRTC with a small WHIP client (RFC 9725).
 */
const WHIP_PUBLISHER = (height: number) => {
  const width = Math.round((height * 16) / 9 / 2) * 2;
  const block = width / BITS;
  return `<!doctype html><meta charset="utf-8"><canvas id="c" width="${width}" height="${height}"></canvas><script>
  const canvas = document.getElementById('c');
  const g = canvas.getContext('2d');
  let n = 0;
  setInterval(() => {
    const stamp = Date.now() % 4294967296;
    g.fillStyle = '#808080'; g.fillRect(0, 0, ${width}, ${height});
    g.fillStyle = '#c8c8c8'; g.fillRect((n++ * 8) % ${width}, ${block * 2}, ${Math.round(width / 20)}, ${height});
    for (let bit = 0; bit < ${BITS}; bit++) {
      g.fillStyle = Math.floor(stamp / 2 ** (${BITS} - 1 - bit)) % 2 ? '#ebebeb' : '#101010';
      g.fillRect(bit * ${block}, 0, ${block}, ${block});
    }
  }, ${1000 / FPS});
  window.publish = async (url, key) => {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const out = audio.createMediaStreamDestination();
    tone.connect(out);
    tone.start();
    const pc = new RTCPeerConnection();
    for (const track of [...canvas.captureStream(${FPS}).getTracks(), ...out.stream.getTracks()]) {
      const t = pc.addTransceiver(track, { direction: 'sendonly' });
      if (track.kind === 'video') {
        t.setCodecPreferences(RTCRtpSender.getCapabilities('video').codecs.filter((c) => c.mimeType === 'video/H264'));
        const params = t.sender.getParameters();
        params.degradationPreference = 'maintain-resolution';
        await t.sender.setParameters(params);
      }
    }
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    });
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: 'Bearer ' + key }, body: pc.localDescription.sdp });
    const answer = await res.text();
    if (res.status !== 201) return res.status + ' ' + answer;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    window.resource = new URL(res.headers.get('Location'), url).href;
    return '';
  };
  window.unpublish = () => fetch(window.resource, { method: 'DELETE' }).then((r) => r.status);
</script>`;
};

/** Starts the WHIP publisher page; resolves once the node answered its offer. */
async function publishWhip(live: CreatedLive, height: number): Promise<{ stop(): Promise<void> }> {
  if (!live.whip_url) throw new Error('this node has no WHIP ingest (no whip_url)');
  // A browser of its own: a canvas in a background tab of the viewer's browser is not painted,
  // so its captureStream would send nothing.
  const browser = await launchBrowser({ extraArgs: FAKE_MEDIA_ARGS });
  const body = WHIP_PUBLISHER(height);
  const pageServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body));
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/`);
  const failed: string = await page.evaluate(([u, k]) => (window as unknown as { publish(u: string, k: string): Promise<string> }).publish(u!, k!), [live.whip_url, live.stream_key]);
  if (failed) throw new Error(`WHIP offer refused: ${failed}`);
  return {
    async stop() {
      await page.evaluate(() => (window as unknown as { unpublish(): Promise<number> }).unpublish()).catch(() => undefined);
      await browser.close();
      pageServer.close();
    },
  };
}

/**
 * The viewer is the product's own live page (/live/:id: its hls.js settings, its ABR); this
 * script, added to the page, reads the barcode of every frame the page's <video> presents
 * (requestVideoFrameCallback + a canvas; any rendition, scaled back to 1280 wide) and
 * subtracts it from the page's clock (same machine, same clock).
 */
const SAMPLER = `(() => {
  window.samples = [];
  const canvas = document.createElement('canvas');
  canvas.width = ${WIDTH};
  canvas.height = ${BLOCK};
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const watch = (video) => {
    const onFrame = () => {
      const h = video.videoHeight;
      if (h > 0) {
        ctx.drawImage(video, 0, 0, video.videoWidth, (h * ${BLOCK}) / ${HEIGHT}, 0, 0, ${WIDTH}, ${BLOCK});
        const row = ctx.getImageData(0, ${BLOCK / 2}, ${WIDTH}, 1).data;
        let stamp = 0;
        for (let bit = 0; bit < ${BITS}; bit++) stamp = stamp * 2 + (row[(bit * ${BLOCK} + ${BLOCK / 2}) * 4] > 128 ? 1 : 0);
        const now = Date.now() % 4294967296;
        const hls = Number(document.getElementById('player')?.dataset.latency ?? NaN);
        window.samples.push({ latency: (now - stamp + 4294967296) % 4294967296, hls, height: h, at: Date.now() });
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  const find = () => {
    const video = document.getElementById('video');
    if (video) watch(video);
    else setTimeout(find, 50);
  };
  find();
})();`;

/** Frames grouped by the second (since the first kept one) they were shown in. */
function perSecond(samples: readonly { latency: number; hls: number; height: number; at: number }[]) {
  const start = samples[0]?.at ?? 0;
  const seconds = new Map<number, (typeof samples)[number][]>();
  for (const s of samples) {
    const t = Math.floor((s.at - start) / 1000);
    const group = seconds.get(t);
    if (group) group.push(s);
    else seconds.set(t, [s]);
  }
  return [...seconds].map(([t, group]) => ({
    t,
    frames: group.length,
    p50_s: percentile(group.map((s) => s.latency / 1000), 50),
    max_s: Math.max(...group.map((s) => s.latency / 1000)),
    heights: [...new Set(group.map((s) => s.height))],
    hls_s: percentile(group.map((s) => s.hls).filter(Number.isFinite), 50),
  }));
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

const server = await startServer({ config: { log_level: 'warn', live: { preset: 'veryfast', whip_host_addresses: ['127.0.0.1'] } }, env: { FRAMECAST_WORKERS: '1' } });
const admin = api(server.url, server.adminToken);
const browser = await launchBrowser();
const stop = new AbortController();
try {
  const live: CreatedLive = (await admin.json('POST', '/v1/live', { title: `bench latency ${opts.ingest}`, record: false })).body;
  let pub: ReturnType<typeof publish> | undefined;
  let whip: Awaited<ReturnType<typeof publishWhip>> | undefined;
  if (opts.ingest === 'whip') whip = await publishWhip(live, Number(opts['whip-height']));
  else {
    const output = FFMPEG_INGESTS[opts.ingest as 'rtmp' | 'srt'](live);
    if (typeof output === 'string') throw new Error(`--ingest ${opts.ingest}: ${output}`);
    pub = publish(output, stop.signal);
  }
  await waitForLive(admin, live.id, (l) => l.status === 'live' && l.renditions.length > 0, 30_000, 20);
  const view = (await admin.json('GET', `/v1/live/${live.id}`)).body;
  const top = view.renditions.at(-1).name as string;

  // Frame → part listed: each part of the top rendition, followed from the first one with
  // blocking reloads, against when its last frame was sent (media time 0 = frame 0).
  const partListed: { at: number; delay: number }[] = [];
  const followParts = async (sent: Map<number, number>) => {
    let msn = -1;
    let part = -1;
    let mediaEnd = 0;
    while (!stop.signal.aborted) {
      const q = msn < 0 ? '' : `?_HLS_msn=${msn}&_HLS_part=${part + 1}`;
      const r = await fetch(`${server.url}/live/${live.id}/${top}/index.m3u8${q}`).catch(() => undefined);
      const listedAt = Date.now();
      if (!r?.ok) {
        await sleep(50);
        continue;
      }
      const lines = (await r.text()).split('\n');
      let seg = Number(lines.find((l) => l.startsWith('#EXT-X-MEDIA-SEQUENCE:'))?.split(':')[1] ?? 0);
      let idx = 0;
      const parts: { msn: number; idx: number; duration: number }[] = [];
      for (const l of lines) {
        if (l.startsWith('#EXT-X-PART:')) parts.push({ msn: seg, idx: idx++, duration: Number(/DURATION=([\d.]+)/.exec(l)![1]) });
        else if (l.startsWith('#EXTINF:')) {
          seg++;
          idx = 0;
        }
      }
      if (msn < 0 && (parts[0]?.msn !== 0 || parts[0]?.idx !== 0)) throw new Error('the first playlist seen no longer lists part 0: start following earlier');
      for (const p of parts) {
        if (p.msn < msn || (p.msn === msn && p.idx <= part)) continue;
        mediaEnd += p.duration;
        const lastFrame = Math.max(0, Math.round(mediaEnd * FPS) - 1);
        const sentAt = sent.get(lastFrame);
        // Parts already listed at the first look were not seen appearing.
        if (msn >= 0 && sentAt !== undefined) partListed.push({ at: listedAt, delay: listedAt - sentAt });
        msn = p.msn;
        part = p.idx;
      }
      if (msn < 0) await sleep(50);
    }
  };
  // Not awaited until the end: a failure is reported there, not as an unhandled rejection.
  // Media time → the frame sent at it: known for the ffmpeg publishers only (WebRTC keeps its own clock).
  const following = (pub ? followParts(pub.sent) : Promise.resolve()).then(() => undefined, (err: unknown) => err);

  const page = await browser.newPage({ viewport: { width: WIDTH, height: HEIGHT + 200 } });
  page.on('console', (m) => { if (m.type() === 'error') console.error(`page ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  await page.addInitScript(SAMPLER);
  await page.goto(`${server.url}/live/${live.id}`);
  await sleep((WARMUP_S + SECONDS) * 1000);
  const samples: { latency: number; hls: number; height: number; at: number }[] = await page.evaluate(() => (window as unknown as { samples: [] }).samples);
  if (samples.length === 0) {
    console.error('no frame presented:', await page.evaluate(() => { const v = document.querySelector('video')!; return { readyState: v.readyState, currentTime: v.currentTime, paused: v.paused, error: v.error?.message, buffered: v.buffered.length ? [v.buffered.start(0), v.buffered.end(v.buffered.length - 1)] : [] }; }));
  }
  const after = (await admin.json('GET', `/v1/live/${live.id}`)).body;
  stop.abort();
  await pub?.exited;
  await whip?.stop();
  const followFailed = await following;
  if (followFailed) console.error(`frame → part listed not measured: ${String(followFailed)}`);
  if (after.dropped_renditions?.length) console.error(`the node fell behind real time and dropped ${after.dropped_renditions.join(', ')} (each drop restarts the packager run)`);
  const cutoff = samples.length > 0 ? samples[0]!.at + WARMUP_S * 1000 : 0;
  // A frame whose barcode did not decode (a seek, a blank frame) is far outside any latency.
  const kept = samples.filter((s) => s.at >= cutoff && s.latency < 60_000);
  const measured = kept.map((s) => s.latency / 1000);
  const heights = new Map<number, number>();
  for (const s of kept) heights.set(s.height, (heights.get(s.height) ?? 0) + 1);
  const shown = [...heights].sort((a, b) => b[1] - a[1]).map(([h, n]) => `${h}p ${Math.round((100 * n) / kept.length)}%`).join(', ');
  const p50 = percentile(measured, 50);
  const p95 = percentile(measured, 95);
  // The same warm-up as the frames: the first parts include the node's start-up.
  const partDelay = partListed.filter((p) => p.at >= cutoff).map((p) => p.delay / 1000);
  const partTarget = 0.5 + 0.3;
  console.log(`\nGlass to glass, ${opts.ingest} ingest, live page (/live/:id), ${measured.length} frames over ${SECONDS} s (after ${WARMUP_S} s warm-up); renditions shown: ${shown}; hls.js latency p50 ${fmt(percentile(kept.map((s) => s.hls).filter(Number.isFinite), 50))} s\n`);
  console.log(markdownTable(['p50 (s)', 'p95 (s)', 'target', 'verdict'], [[fmt(p50), fmt(p95), 'p50 ≤ 2.0, p95 ≤ 3.0', `${verdict(p50, 2, 'max')} / ${verdict(p95, 3, 'max')}`]]));
  const partP50 = percentile(partDelay, 50);
  const partP95 = percentile(partDelay, 95);
  if (pub) console.log(`\nLast frame of a part → part listed in ${top} (${partDelay.length} parts): p50 ${fmt(partP50)} s, p95 ${fmt(partP95)} s (target ≤ ${partTarget} s: ${verdict(partP50, partTarget, 'max')} p50 / ${verdict(partP95, partTarget, 'max')} p95)`);
  else console.log('\nFrame → part listed: not measured for WHIP (the media time of a WebRTC frame is not the bench\'s frame count)');
  // Second by second, to trace a tail: when it happened, on which rendition, and whether
  // hls.js itself knew it was behind (its latency estimate) or the frames came late to it.
  const series = perSecond(kept);
  const late = series.filter((s) => s.max_s > p50 + 1);
  if (late.length) console.log(`\nSeconds with a frame over p50 + 1 s: ${late.map((s) => `t=${s.t} (${s.frames} frames, max ${fmt(s.max_s)} s, ${s.heights.join('/')}p, hls.js ${fmt(s.hls_s)} s)`).join('; ')}`);
  const file = await writeResults(`live-latency-${opts.ingest}`, { ingest: opts.ingest, seconds: SECONDS, warmup_s: WARMUP_S, top, p50_s: p50, p95_s: p95, frames: measured.length, renditions_shown: shown, per_second: series, dropped: after.dropped_renditions ?? [], frame_to_part_listed_p50_s: partP50, frame_to_part_listed_p95_s: partP95, frame_to_part_listed_s: partDelay, loadavg: (await import('node:os')).loadavg() });
  console.log(`results: ${file}`);
} finally {
  stop.abort();
  await browser.close();
  await server.stop();
}
