import { NodeUrlSigner } from '../../core/http/signed-urls.js';
import type { ObjectStore } from '../../core/storage/object-store.js';
import { ObjectUrlSigner } from '../../core/storage/object-urls.js';
import t from 'tap';
import { PlaybackSigner, playbackSigner } from '../../core/origin/signing.js';

const SECRET = 'unit-test-secret';
const NOW = 1_800_000_000_000;
const clock = () => NOW;

t.test('a token verifies for its video until it expires', async (t) => {
  const signer = new PlaybackSigner(SECRET, { ttlSeconds: 60 }, clock);
  const token = signer.token('abcdefghijkl');
  t.match(token, /^\d+\.[A-Za-z0-9_-]{43}$/);
  t.equal(signer.check('abcdefghijkl', token), 'ok');
  const later = new PlaybackSigner(SECRET, { ttlSeconds: 60 }, () => NOW + 61_000);
  t.equal(later.check('abcdefghijkl', token), 'expired');
});

t.test('tampered, foreign, malformed and missing tokens are refused', async (t) => {
  const signer = new PlaybackSigner(SECRET, {}, clock);
  const token = signer.token('abcdefghijkl');
  const [exp, mac] = token.split('.') as [string, string];
  const flipped = `${exp}.${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`;
  t.equal(signer.check('abcdefghijkl', flipped), 'invalid', 'one character of the MAC changed');
  t.equal(signer.check('abcdefghijkl', `${Number(exp) + 3600}.${mac}`), 'invalid', 'expiry pushed back');
  t.equal(signer.check('zzzzzzzzzzzz', token), 'invalid', 'another video');
  t.equal(new PlaybackSigner('other-secret', {}, clock).check('abcdefghijkl', token), 'invalid', 'another secret');
  t.equal(signer.check('abcdefghijkl', 'nonsense'), 'malformed');
  t.equal(signer.check('abcdefghijkl', undefined), 'missing');
  t.equal(signer.check('abcdefghijkl', ''), 'missing');
});

t.test('an expired token with a valid MAC reports expired; a forged one invalid', async (t) => {
  const signer = new PlaybackSigner(SECRET, {}, clock);
  const past = signer.token('abcdefghijkl', {}, NOW / 1000 - 10);
  t.equal(signer.check('abcdefghijkl', past), 'expired');
});

t.test('IP binding: a bound token plays only from its IP', async (t) => {
  const bound = new PlaybackSigner(SECRET, { bindIp: true }, clock);
  const token = bound.token('abcdefghijkl', { ip: '127.0.0.2' });
  t.match(token, /^\d+\.ip\.[A-Za-z0-9_-]{43}$/);
  t.equal(bound.check('abcdefghijkl', token, { ip: '127.0.0.2' }), 'ok');
  t.equal(bound.check('abcdefghijkl', token, { ip: '::ffff:127.0.0.2' }), 'ok', 'IPv4-mapped form is the same viewer');
  t.equal(bound.check('abcdefghijkl', token, { ip: '127.0.0.1' }), 'invalid');
  const unbound = new PlaybackSigner(SECRET, {}, clock).token('abcdefghijkl');
  t.equal(bound.check('abcdefghijkl', unbound, { ip: '127.0.0.1' }), 'invalid', 'a binding node refuses unbound tokens');
  const plain = new PlaybackSigner(SECRET, {}, clock);
  t.equal(plain.check('abcdefghijkl', token, { ip: '127.0.0.1' }), 'invalid', 'bound tokens stay bound everywhere');
});

t.test('signUrl appends the token; the configured signer applies signing.* once', async (t) => {
  const signer = new PlaybackSigner(SECRET, {}, clock);
  t.match(signer.signUrl('abcdefghijkl', '/media/abcdefghijkl/v1/master.m3u8'), /master\.m3u8\?token=\d+\./);
  t.match(signer.signUrl('abcdefghijkl', '/x?a=1'), /\?a=1&token=/);
  const s = { signer, config: { signing: { secret: SECRET, ttl_s: 30, bind_ip: true } } };
  const configured = playbackSigner(s);
  t.same(configured.policy, { ttlSeconds: 30, bindIp: true });
  t.equal(playbackSigner(s), configured, 'memoized');
  t.equal(signer.withPolicy({}), signer, 'no change, same signer');
});

t.test('object URLs on the node: one key, one method, until they expire; a part URL is not one', async (t) => {
  let now = 1_700_000_000_000;
  const store = {} as ObjectStore; // fs: no presigning, so node URLs
  const objects = new ObjectUrlSigner('secret', store, () => now);
  const url = (path: string) => new URL(path, 'http://node.invalid');
  const get = objects.nodeUrl('GET', 'media/v1d/v1/720p/seg-1.m4s', 60);
  t.equal(objects.verify('GET', url(get)), 'media/v1d/v1/720p/seg-1.m4s');
  t.equal(objects.verify('HEAD', url(get)), 'media/v1d/v1/720p/seg-1.m4s', 'HEAD as GET');
  t.equal(objects.verify('PUT', url(get)), undefined, 'not another method');
  t.equal(objects.verify('GET', url(get.replace('seg-1', 'seg-2'))), undefined, 'not another key');
  const part = new NodeUrlSigner('secret', () => now).sign('GET', '/v1/objects/media/v1d/v1/x', 60);
  t.equal(objects.verify('GET', url(part)), undefined, 'a URL signed with signing.secret itself is refused');
  now += 61_000;
  t.equal(objects.verify('GET', url(get)), undefined, 'expired');
});
