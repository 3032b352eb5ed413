/**
 * The client's address behind reverse proxies (`http.trust_proxy`).
 *
 * Each proxy appends the address it saw to X-Forwarded-For (nginx's
 * `$proxy_add_x_forwarded_for`), so only the rightmost entries are written by proxies we
 * know; anything to their left came from the client and may be forged. The walk starts at
 * the socket's peer and moves left through X-Forwarded-For while the address at hand is a
 * trusted proxy; the first untrusted address is the client (the same walk as the
 * `proxy-addr` package). Trust is one of:
 *  - `false`: no proxy; the socket's peer is the client and X-Forwarded-For is ignored;
 *  - `true`: proxies on loopback only (nginx on the same host);
 *  - a hop count N: the N nearest addresses are proxies, whatever they are;
 *  - a list of addresses and CIDRs (and the names `loopback`, `private`, `linklocal`).
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** The value of `http.trust_proxy`. */
export type TrustProxy = boolean | number | readonly string[];

/** Ranges a name in the trust list stands for. */
const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
};

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) → `10.0.0.1`. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** An address or CIDR of the trust list; throws with the offending entry when it is neither. */
function addRange(list: BlockList, entry: string): void {
  const [address = '', prefix, extra] = entry.split('/');
  const family = isIP(address);
  const bits = prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix);
  if (family === 0 || extra !== undefined || !Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) {
    throw new Error(`http.trust_proxy: "${entry}" is not an IP address, a CIDR or one of ${Object.keys(NAMED_RANGES).join(', ')}`);
  }
  list.addSubnet(address, bits, family === 4 ? 'ipv4' : 'ipv6');
}

/** Whether the address at `hop` (0 = the socket's peer) is a proxy we trust. */
type TrustTest = (address: string, hop: number) => boolean;

/** Compiles a trust setting once; throws on an entry that is not an address, CIDR or name. */
export function compileTrust(trust: TrustProxy): TrustTest {
  if (trust === false || trust === 0) return () => false;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  const list = new BlockList();
  for (const entry of trust === true ? ['loopback'] : trust) {
    for (const range of NAMED_RANGES[entry] ?? [entry]) addRange(list, range);
  }
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/**
 * The client's address from the socket's peer and X-Forwarded-For under `trust`: the first
 * address, walking leftwards from the peer, that is not a trusted proxy. An entry that is
 * not an IP address ends the walk at the last address a trusted proxy vouched for.
 */
export function clientAddress(peer: string, forwardedFor: string | undefined, trusted: TrustTest): string {
  let address = plainAddress(peer);
  if (!forwardedFor || !trusted(address, 0)) return address;
  const entries = forwardedFor.split(',');
  for (let i = entries.length - 1, hop = 1; i >= 0; i--, hop++) {
    const next = plainAddress(entries[i]!.trim());
    if (isIP(next) === 0) return address;
    address = next;
    if (!trusted(address, hop)) return address;
  }
  // Every hop was a trusted proxy: the leftmost is as close to the client as we can tell.
  return address;
}

/** A resolver of requests' client addresses under one compiled trust setting. */
export function clientIpResolver(trust: TrustProxy): (req: IncomingMessage) => string {
  const trusted = compileTrust(trust);
  if (trust === false || trust === 0) return (req) => plainAddress(req.socket.remoteAddress ?? '');
  return (req) => {
    const forwarded = req.headers['x-forwarded-for'];
    return clientAddress(req.socket.remoteAddress ?? '', Array.isArray(forwarded) ? forwarded.join(',') : forwarded, trusted);
  };
}
