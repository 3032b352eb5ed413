/**
 * RTMP connections that never publish cannot hold the media process's memory or its
 * connection slots: raw clients that park unfinished messages over many chunk streams,
 * announce huge messages, stay silent or open too many connections (per address and in all)
 * are cut by the server, and an accepted publisher that goes silent is closed after
 * `live.idle_timeout_s`,
 * while a real encoder on the same address goes on publishing (its keyframes larger than
 * the pre-publish message cap: the caps end once its key is accepted) and the live plays.
 * Also: `live.public_rtmp_url` is the rtmp_url the API hands out.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { liveFixture, parseLivePlaylist, pushRtmp, waitForLive } from '../helpers/live.js';
import { eventually } from '../helpers/readiness.js';
import { c0c1, chunkHeader, setChunkSize } from '../helpers/rtmp-chunks.js';
import { freePort } from '../helpers/server.js';

const PUBLIC_RTMP_URL = 'rtmp://live.example.net:19350/live';
const LIMITS = {
  handshake_timeout_s: 3,
  // Above the handshake timeout, so a connection that never publishes is cut by that first.
  idle_timeout_s: 4,
  max_connections: 6,
  max_connections_per_address: 4,
  // Below the clip's keyframes (~11-13 KB): they must still reach the live after publish.
  prepublish_max_message_bytes: 8192,
  prepublish_max_chunk_streams: 8,
  prepublish_max_buffered_bytes: 32768,
};
const rtmpPort = await freePort();
const { server, admin, clip } = await liveFixture(t, 2, {
  live: { ...LIMITS, public_rtmp_url: PUBLIC_RTMP_URL },
  env: { FRAMECAST_RTMP_PORT: String(rtmpPort) },
  clipSeconds: 16,
});

/** A raw TCP client of the RTMP port that records what the server did to it. */
class RawClient {
  readonly socket: Socket;
  received = 0;
  sent = 0;
  closedByServer = false;
  readonly closed: Promise<void>;
  private waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.received += d.length;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
    socket.on('end', () => (this.closedByServer = true));
    this.closed = new Promise((res) =>
      socket.once('close', (hadError) => {
        // A reset (the server destroyed the socket while we wrote) counts as the server's close too.
        if (hadError) this.closedByServer = true;
        for (const w of this.waiters.splice(0)) w();
        res();
      }),
    );
  }

  /** `from`: the local address (any of 127.0.0.0/8 reaches the server over loopback). */
  static open(from = '127.0.0.1'): Promise<RawClient> {
    return new Promise((res, rej) => {
      const socket = connect({ port: rtmpPort, host: '127.0.0.1', localAddress: from }, () => res(new RawClient(socket)));
      socket.once('error', rej);
    });
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.closed;
  }

  async received_(bytes: number): Promise<boolean> {
    while (this.received < bytes && !this.isClosed) await new Promise<void>((r) => this.waiters.push(r));
    return this.received >= bytes;
  }

  /** Writes and waits until the kernel took the bytes; false once the connection is gone. */
  write(data: Buffer): Promise<boolean> {
    if (this.isClosed) return Promise.resolve(false);
    return new Promise((res) =>
      this.socket.write(data, (err) => {
        if (!err) this.sent += data.length;
        res(!err);
      }),
    );
  }

  /** C0 + C1, wait for S0 S1 S2, then C2: the simple RTMP handshake. */
  async handshake(): Promise<boolean> {
    if (!(await this.write(c0c1()))) return false;
    if (!(await this.received_(1 + 1536 + 1536))) return false;
    return this.write(randomBytes(1536));
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Opens a message of `length` bytes on chunk streams 3, 4, … and sends one chunk (`chunk`,
 * the current chunk size) of each, so that none is finished. Returns the bytes planned.
 */
async function parkOverChunkStreams(c: RawClient, length: number, chunk: Buffer): Promise<number> {
  const streams = 300;
  for (let cs = 3; cs < 3 + streams; cs++) if (!(await c.write(Buffer.concat([chunkHeader(cs, length), chunk])))) break;
  return streams * (chunk.length + 13);
}

async function playlist(url: string) {
  const r = await fetch(url);
  return parseLivePlaylist(r.ok ? await r.text() : '');
}

t.test('the API hands out live.public_rtmp_url verbatim', async (t) => {
  const created = await admin.json('POST', '/v1/live', { title: 'Behind NAT' });
  t.equal(created.status, 201);
  t.equal(created.body.rtmp_url, PUBLIC_RTMP_URL, 'POST /v1/live');
  t.equal((await admin.json('GET', `/v1/live/${created.body.id}`)).body.rtmp_url, PUBLIC_RTMP_URL, 'GET /v1/live/:id');
});

t.test('connections that never publish are cut while a real live goes on', async (t) => {
  const created = await admin.json('POST', '/v1/live', { title: 'Under attack', record: false });
  const { id, stream_key: key } = created.body as { id: string; stream_key: string };
  const media = `${server.url}/live/${id}/240p/index.m3u8`;
  const push = pushRtmp(`rtmp://127.0.0.1:${rtmpPort}/live`, key, clip);
  t.teardown(() => push.stop());
  await waitForLive(admin, id, (l) => l.publishing === true, 30_000);
  const before = await eventually(() => playlist(media), (p) => p.segments.length >= 1, 'a first segment');

  await t.test('one address gets at most max_connections_per_address connections (the encoder holds one)', async (t) => {
    const held = await Promise.all([RawClient.open(), RawClient.open(), RawClient.open()]);
    for (const c of held) t.ok(await c.handshake(), 'a connection within the cap is served');
    const extra = await RawClient.open();
    await extra.write(c0c1());
    await extra.closed;
    t.ok(extra.closedByServer, 'the connection over the cap is closed by the server');
    t.equal(extra.received, 0, '... without an answer to its handshake');
    for (const c of held) c.close();
    await Promise.all(held.map((c) => c.closed));
  });

  await t.test('the node gets at most live.max_connections connections in all (the encoder holds one)', async (t) => {
    // Five more from two other addresses, each within its per-address cap: six in all.
    const held = await Promise.all(['127.0.0.2', '127.0.0.2', '127.0.0.2', '127.0.0.3', '127.0.0.3'].map((from) => RawClient.open(from)));
    for (const c of held) t.ok(await c.handshake(), 'a connection within the cap is served');
    const extra = await RawClient.open('127.0.0.4');
    await extra.write(c0c1());
    await extra.closed;
    t.ok(extra.closedByServer, 'a seventh connection, from a fresh address, is closed by the server');
    t.equal(extra.received, 0, '... without an answer to its handshake');
    // The media process's log reaches the test through the supervisor's pipe a little later.
    await eventually(async () => server.logs(), (logs) => /live\.max_connections reached/.test(logs), 'the log names the total cap', 10_000);
    for (const c of held) c.close();
    await Promise.all(held.map((c) => c.closed));
  });

  await t.test('a silent connection is closed after live.handshake_timeout_s', async (t) => {
    const silent = await RawClient.open();
    await Promise.race([silent.closed, new Promise((r) => setTimeout(r, 30_000))]);
    t.ok(silent.closedByServer, 'closed by the server');
    t.equal(silent.received, 0);
  });

  const cases: { name: string; cap: string; send: (c: RawClient) => Promise<number> }[] = [
    {
      name: 'unfinished messages parked over many chunk streams',
      cap: 'buffered_too_much',
      async send(c) {
        // Each chunk stream gets the first chunk (7000 real bytes) of an 8192-byte message, never finished.
        await c.write(setChunkSize(7000));
        return parkOverChunkStreams(c, 8192, randomBytes(7000));
      },
    },
    {
      name: 'a message announced larger than the pre-publish cap',
      cap: 'message_too_large',
      async send(c) {
        await c.write(setChunkSize(64 * 1024));
        return parkOverChunkStreams(c, 4 * 1024 * 1024, randomBytes(64 * 1024));
      },
    },
    {
      name: 'small messages over more chunk streams than the cap',
      cap: 'too_many_chunk_streams',
      async send(c) {
        await c.write(setChunkSize(64));
        return parkOverChunkStreams(c, 100, randomBytes(64));
      },
    },
  ];
  for (const tc of cases) {
    await t.test(`${tc.name}: cut by the server`, async (t) => {
      const c = await RawClient.open();
      t.ok(await c.handshake(), 'handshake done');
      const handshakeBytes = c.sent;
      const planned = await tc.send(c);
      await Promise.race([c.closed, new Promise((r) => setTimeout(r, 10_000))]);
      t.ok(c.closedByServer, 'the server closed the connection');
      const sent = c.sent - handshakeBytes;
      t.ok(sent < planned, `cut before all was sent (${sent} of ${planned} bytes)`);
      await eventually(async () => server.logs(), (logs) => logs.includes(`"kind":"${tc.cap}"`), `the log names the cap (${tc.cap})`, 10_000);
    });
  }

  t.equal(push.child.exitCode, null, 'the encoder is still publishing');
  const after = await eventually(() => playlist(media), (p) => p.mediaSequence + p.segments.length > before.mediaSequence + before.segments.length + 2, 'more segments after the attacks', 60_000);
  t.ok(after.segments.length > 0, 'the live plays on');
  t.equal(await push.exited, 0, 'the push ran to its end');
});

t.test('a publisher that goes silent is closed after live.idle_timeout_s', async (t) => {
  const created = await admin.json('POST', '/v1/live', { title: 'Frozen encoder', record: false });
  const { id, stream_key: key } = created.body as { id: string; stream_key: string };
  const push = pushRtmp(`rtmp://127.0.0.1:${rtmpPort}/live`, key, clip);
  t.teardown(() => push.stop());
  await waitForLive(admin, id, (l) => l.publishing === true, 30_000);
  const idleBefore = (server.logs().match(/idle connection closed/g) ?? []).length;
  // An encoder that hangs: its key was accepted (no handshake deadline any more), it sends nothing.
  process.kill(push.child.pid!, 'SIGSTOP');
  await eventually(async () => (server.logs().match(/idle connection closed \(live\.idle_timeout_s\)/g) ?? []).length, (n) => n > idleBefore, 'the idle close logged', 30_000);
  process.kill(push.child.pid!, 'SIGCONT');
  t.not(await push.exited, 0, 'the encoder, woken, finds its connection closed');
});
