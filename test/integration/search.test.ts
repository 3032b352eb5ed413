/**
 * GET /v1/search through a real node: every word of q must match the title, description or
 * tags (any case, as a prefix), most relevant first (test/integration/catalog.test.ts has
 * the ranking), paged with next_cursor; anonymous callers find ready public videos only;
 * punctuation separates words.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { startServer } from '../helpers/server.js';

const server = await startServer();
const dir = await mkdtemp(join(tmpdir(), 'framecast-search-'));
t.teardown(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
const admin = api(server.url, server.adminToken);
const anonymous = api(server.url, null);
const clip = await makeClip(dir, { width: 320, height: 180, seconds: 1 });

interface NewVideo {
  title: string;
  description?: string;
  tags?: string[];
  visibility?: 'public' | 'unlisted' | 'private';
  /** Upload the clip and wait until the video is ready. */
  ready?: boolean;
}

async function video(spec: NewVideo): Promise<string> {
  const { ready, ...body } = spec;
  const created = await admin.json('POST', '/v1/videos', body);
  if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
  const id = created.body.id as string;
  if (ready) {
    await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'clip.mp4', video_id: id } });
    const v = await waitForVideo(admin, id);
    if (v.status !== 'ready') throw new Error(`video did not become ready: ${JSON.stringify(v.error)}`);
  }
  return id;
}

const ids = {
  sunset: await video({ title: 'Sunset over the Harbor', description: 'Golden light on the water', tags: ['travel', 'boats'], ready: true }),
  cats: await video({ title: 'Harbor cats', description: 'They sleep on the nets', tags: ['Pets'], visibility: 'unlisted', ready: true }),
  secret: await video({ title: 'Private harbor notes', visibility: 'private', ready: true }),
  draft: await video({ title: 'Harbor draft' }),
  percent: await video({ title: '100% pure_fun' }),
  lookalike: await video({ title: '100 percent purexfun' }),
};
const nameOf = new Map(Object.entries(ids).map(([name, id]) => [id, name]));

/** Names of the videos a search finds, in the order given. */
async function search(q: string | null, who = admin, extra = ''): Promise<string[]> {
  const query = q === null ? extra : `q=${encodeURIComponent(q)}${extra}`;
  const r = await who.json('GET', `/v1/search?${query}`);
  if (r.status !== 200) throw new Error(`search ${query}: ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body.items as { id: string }[]).map((v) => nameOf.get(v.id) ?? v.id);
}

/** The list's own order (newest first) restricted to these names. */
async function listOrder(names: string[]): Promise<string[]> {
  const r = await admin.json('GET', '/v1/videos?limit=100');
  return (r.body.items as { id: string }[]).map((v) => nameOf.get(v.id)).filter((n): n is string => n !== undefined && names.includes(n));
}

t.test('a word matches titles, descriptions and tags', async (t) => {
  t.same(await search('harbor'), await listOrder(['sunset', 'cats', 'secret', 'draft']), 'title matches only: newest first among equals');
  t.same(await search('golden'), ['sunset'], 'a description match');
  t.same(await search('pets'), ['cats'], 'a tag match');
  t.same(await search('boats'), ['sunset'], 'another tag');
  t.same(await search('nothing-like-this'), [], 'no match gives an empty page');
});

t.test('matching ignores case', async (t) => {
  t.same(await search('HARBOR CATS'), ['cats']);
  t.same(await search('gOlDeN'), ['sunset']);
  t.same(await search('PETS'), ['cats'], 'tags too');
});

t.test('every word of q must match somewhere', async (t) => {
  t.same(await search('harbor cats'), ['cats'], 'both words in the title');
  t.same(await search('harbor golden'), ['sunset'], 'one in the title, one in the description');
  t.same(await search('harbor travel'), ['sunset'], 'one in the title, one in a tag');
  t.same(await search('  harbor   nets  '), ['cats'], 'extra spaces do not matter');
  t.same(await search('harbor zebra'), [], 'one word without a match: nothing');
});

t.test('punctuation separates words; symbols alone match nothing', async (t) => {
  t.same(await search('pure_fun'), ['percent'], '"pure_fun" is the phrase "pure fun", not a LIKE pattern');
  t.same((await search('100%')).sort(), ['lookalike', 'percent'], '"100%" is the word 100');
  t.same(await search('%'), [], 'a lone % finds nothing');
  t.same(await search('_'), []);
  t.same(await search('\\'), []);
  t.same(await search('"quoted'), [], 'quotes cannot break the query');
});

t.test('anonymous callers find ready public videos only', async (t) => {
  t.same(await search('harbor', anonymous), ['sunset'], 'unlisted, private and unfinished videos are not found');
  t.same(await search('cats', anonymous), [], 'an unlisted video is not found by its own title');
  t.same(await search('private', anonymous), [], 'a private video is not found');
  const r = await anonymous.json('GET', '/v1/search?q=harbor');
  t.equal(r.body.items[0].playback.poster_url, `/media/${ids.sunset}/v1/poster.jpg`, 'items have the video shape');
});

t.test('pages follow next_cursor to the end without repeats', async (t) => {
  const all = await search('harbor');
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const r: { status: number; body: { items: { id: string }[]; next_cursor: string | null } } = await admin.json(
      'GET',
      `/v1/search?q=harbor&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    t.equal(r.status, 200);
    t.ok(r.body.items.length <= 3, 'no more than limit items');
    seen.push(...r.body.items.map((v) => nameOf.get(v.id)!));
    cursor = r.body.next_cursor;
    pages++;
  } while (cursor && pages < 10);
  t.equal(pages, 2, 'four matches at three a page make two pages');
  t.same(seen, all, 'the pages together are the whole result, in order');
});

t.test('bad requests get E_BAD_REQUEST', async (t) => {
  for (const query of ['', 'q=', 'q=%20%20', 'q=harbor&limit=0', 'q=harbor&limit=101', 'q=harbor&cursor=not-a-cursor']) {
    const r = await anonymous.json('GET', `/v1/search?${query}`);
    t.equal(r.status, 400, `?${query} → 400`);
    t.equal(r.body?.error?.code, 'E_BAD_REQUEST', `?${query} → E_BAD_REQUEST`);
  }
});
