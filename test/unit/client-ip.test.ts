/**
 * The client's address behind proxies (http.trust_proxy): only the entries our own proxies
 * appended to X-Forwarded-For count; what the client wrote to the left of them does not.
 */
import t from 'tap';
import { loadConfig } from '../../config/load.js';
import { clientAddress, compileTrust, type TrustProxy } from '../../core/http/client-ip.js';

/** [trust, socket peer, X-Forwarded-For, expected client, why] */
const cases: [TrustProxy, string, string | undefined, string, string][] = [
  [false, '10.0.0.5', '6.6.6.6', '10.0.0.5', 'no proxy trusted: the peer, whatever the header says'],
  [true, '127.0.0.1', '6.6.6.6, 203.0.113.7', '203.0.113.7', 'loopback nginx: the address it appended, not the forged one'],
  [true, '::ffff:127.0.0.1', '203.0.113.7', '203.0.113.7', 'an IPv4-mapped loopback peer is loopback'],
  [true, '198.51.100.1', '6.6.6.6', '198.51.100.1', 'a peer off loopback is not a proxy under true'],
  [true, '127.0.0.1', undefined, '127.0.0.1', 'no header: the peer'],
  [1, '10.0.0.2', '6.6.6.6, 203.0.113.7', '203.0.113.7', 'one hop: the rightmost entry'],
  [2, '10.0.0.2', '6.6.6.6, 203.0.113.7, 10.0.0.9', '203.0.113.7', 'two hops (CDN + nginx)'],
  [3, '10.0.0.2', '203.0.113.7', '203.0.113.7', 'more hops than entries: the leftmost'],
  [['10.0.0.0/8'], '10.0.0.2', '6.6.6.6, 203.0.113.7, 10.1.2.3', '203.0.113.7', 'a CIDR: every trusted proxy skipped'],
  [['10.0.0.2', '2001:db8::/32'], '2001:db8::1', '203.0.113.7', '203.0.113.7', 'IPv6 CIDR'],
  [['10.0.0.2'], '10.0.0.3', '6.6.6.6', '10.0.0.3', 'an address not listed is the client'],
  [['private'], '192.168.1.1', '6.6.6.6, 172.16.0.4', '6.6.6.6', 'named ranges: the first public address'],
  [['loopback'], '127.0.0.1', 'not-an-ip, 203.0.113.7', '203.0.113.7', 'a garbage entry left of the client is never used'],
  [['loopback'], '127.0.0.1', '203.0.113.7, 127.0.0.1, garbage', '127.0.0.1', 'a garbage entry ends the walk at the last vouched address'],
];

t.test('the client is the first untrusted address walking left from the peer', async (t) => {
  for (const [trust, peer, xff, expected, why] of cases) {
    t.equal(clientAddress(peer, xff, compileTrust(trust)), expected, `${JSON.stringify(trust)}: ${why}`);
  }
});

t.test('http.trust_proxy accepts false, true, a hop count, a list or a comma string; bad entries stop start-up', async (t) => {
  const load = (trust_proxy: unknown) => loadConfig({ env: {}, overrides: { http: { trust_proxy } } }).http.trust_proxy;
  t.equal(load(true), true);
  t.equal(load(2), 2);
  t.same(load(['10.0.0.0/8', 'loopback']), ['10.0.0.0/8', 'loopback']);
  t.same(load('10.0.0.1, 10.0.0.2'), ['10.0.0.1', '10.0.0.2']);
  for (const bad of [['10.0.0.0/33'], ['nginx.internal'], '1.2.3.4/8/9', -1]) {
    t.throws(() => load(bad), { name: 'ConfigError', message: /http\.trust_proxy/ }, JSON.stringify(bad));
  }
});
