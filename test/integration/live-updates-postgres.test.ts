/**
 * Blocking LL-HLS reloads across api nodes: the media process of one node announces a
 * playlist change through the shared PostgreSQL (LISTEN/NOTIFY), and a request held on
 * another node's HTTP process is answered by it, with no polling in between. Two metadata
 * adapters on the same real database stand for the two nodes.
 */
import t from 'tap';
import { waitForPlaylist } from '../../core/origin/blocking-reload.js';
import { LiveUpdates } from '../../core/origin/live-updates.js';
import createPostgresMetadataDb from '../../storage-adapters/metadata/postgres.js';
import { createTestDatabase, postgresUnavailable } from '../helpers/postgres.js';

const unavailable = await postgresUnavailable();
if (unavailable) throw new Error(unavailable);
const database = await createTestDatabase();
t.teardown(() => database.drop());

const mediaNode = await createPostgresMetadataDb(database.url);
const apiNode = await createPostgresMetadataDb(database.url);
t.teardown(async () => {
  await mediaNode.close();
  await apiNode.close();
});

t.test('a change sent by one node wakes a request held on another', async (t) => {
  const publisher = new LiveUpdates();
  const viewer = new LiveUpdates();
  publisher.use(await mediaNode.openUpdateChannel!((key) => publisher.deliver(key), { listen: false }));
  viewer.use(await apiNode.openUpdateChannel!((key) => viewer.deliver(key), { listen: true }));
  t.teardown(async () => {
    await publisher.close();
    await viewer.close();
  });

  const key = 'live/abc/360p/index.m3u8';
  let text = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.0,\ns0.m4s\n#EXT-X-PART:DURATION=0.5,URI="p4.m4s"\n';
  let reads = 0;
  let answered = false;
  const held = waitForPlaylist(viewer, key, async () => (reads++, text), { msn: 1, part: 1 }, 20_000).then(() => (answered = true));
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(answered, 'held: part 1 of segment 1 is not listed');
  t.equal(reads, 1, 'read once, then waiting for a notification');

  text += '#EXT-X-PART:DURATION=0.5,URI="p5.m4s"\n';
  publisher.changed(key);
  await held;
  t.ok(answered, 'the other node answered once the change arrived');
  t.equal(reads, 2, 'one read per notification');
});
