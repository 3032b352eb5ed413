/**
 * The pure parts of WHIP ingest: the SDP ffmpeg reads (built from the negotiated codecs
 * only), the answer's extra candidates for a 1:1 NAT, and the live.whip_* config checks.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../config/load.js';
import { forwardSdp } from '../../live/rtp-forwarder.js';
import { withPublicCandidates } from '../../live/whip-peer.js';

t.test('ffmpeg reads an SDP of our own: negotiated payload types on loopback ports, nothing else of the offer', async (t) => {
  const sdp = forwardSdp([
    { track: { kind: 'video', codec: 'h264', payloadType: 102, clockRate: 90000, channels: 1, fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f;x=a=candidate:evil' }, port: 40000 },
    { track: { kind: 'audio', codec: 'opus', payloadType: 111, clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' }, port: 40002 },
  ]);
  t.same(sdp.split('\r\n'), [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    's=framecast-whip',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    'm=video 40000 RTP/AVP 102',
    'a=rtpmap:102 H264/90000',
    'a=fmtp:102 packetization-mode=1',
    'm=audio 40002 RTP/AVP 111',
    'a=rtpmap:111 opus/48000/2',
    '',
  ]);
  const vp8 = forwardSdp([{ track: { kind: 'video', codec: 'vp8', payloadType: 96, clockRate: 90000, channels: 1, fmtp: '' }, port: 41000 }]);
  t.match(vp8, /m=video 41000 RTP\/AVP 96\r\na=rtpmap:96 VP8\/90000\r\n$/, 'VP8 without fmtp');
});

t.test('behind a 1:1 NAT the answer lists each host candidate again with the public address and the same port', async (t) => {
  const answer = ['v=0', 'a=candidate:1 1 udp 2130706431 10.0.0.5 50123 typ host', 'a=candidate:2 1 udp 16777215 10.0.0.5 50124 typ relay raddr 1.2.3.4 rport 3', 'a=end-of-candidates', ''].join('\r\n');
  t.equal(withPublicCandidates(answer, []), answer, 'no public address: the answer as is');
  const lines = withPublicCandidates(answer, ['203.0.113.7']).split('\r\n');
  t.same(lines.slice(1, 3), ['a=candidate:1 1 udp 2130706431 10.0.0.5 50123 typ host', 'a=candidate:1p0 1 udp 2130706430 203.0.113.7 50123 typ host']);
  t.equal(lines.filter((l) => l.includes('203.0.113.7')).length, 1, 'only host candidates are copied');
});

t.test('live.whip_* keys: address lists from YAML or env, the UDP range checked', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'framecast-whip-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const load = async (yaml: string) => {
    const file = join(dir, 'c.yaml');
    await writeFile(file, yaml);
    return loadConfig({ file, env: {}, cwd: dir });
  };
  const defaults = loadConfig({ env: {}, cwd: dir });
  t.same([defaults.live.whip_host_addresses, defaults.live.whip_public_ips, defaults.live.whip_udp_port_min, defaults.live.whip_udp_port_max], [[], [], 0, 0]);
  t.same((await load('live:\n  whip_host_addresses: [127.0.0.1]\n')).live.whip_host_addresses, ['127.0.0.1']);
  t.same((await load('live:\n  whip_public_ips: "203.0.113.7, 198.51.100.2"\n')).live.whip_public_ips, ['203.0.113.7', '198.51.100.2'], 'a comma-separated string');
  t.equal((await load('live:\n  whip_udp_port_min: 50000\n  whip_udp_port_max: 50100\n')).live.whip_udp_port_max, 50100);
  await t.rejects(load('live:\n  whip_public_ips: [not-an-ip]\n'), { message: /live\.whip_public_ips/ });
  await t.rejects(load('live:\n  whip_udp_port_min: 50000\n'), { message: /live\.whip_udp_port_min/ }, 'a range needs both ends');
  await t.rejects(load('live:\n  whip_udp_port_min: 50100\n  whip_udp_port_max: 50000\n'), { message: /live\.whip_udp_port_min/ }, 'min below max');
});
