import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import t from 'tap';
import { PreparedHead, preparedHeadsSkipValidation } from '../../core/http/prepared-head.js';

/** The raw response bytes of one GET to a server answering with `answer`. */
async function rawResponse(answer: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(answer);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.end('GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    let raw = '';
    socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
    await once(socket, 'close');
    return raw.replace(/^Date: .*\r\n/m, '');
  } finally {
    server.close();
  }
}

const LIST = ['Access-Control-Allow-Origin', '*', 'Content-Type', 'application/vnd.apple.mpegurl', 'ETag', '"abc"', 'Content-Length', 5];

t.test('this Node keeps set headers where a prepared head can put them', async (t) => {
  // Not a requirement for correctness (the fallback writes the same bytes), but the origin's
  // hot path is measured with it: a Node that moved its header map shows here first.
  t.ok(preparedHeadsSkipValidation);
});

t.test('a prepared head writes the bytes writeHead writes, for every response it is reused on', async (t) => {
  const head = new PreparedHead(LIST);
  const expected = await rawResponse((_req, res) => res.writeHead(200, LIST).end('hello'));
  t.match(expected, /^HTTP\/1\.1 200 OK\r\nAccess-Control-Allow-Origin: \*\r\n/);
  for (let i = 0; i < 3; i++) t.equal(await rawResponse((_req, res) => (head.write(res, 200), res.end('hello'))), expected, `response ${i + 1}`);
  const notModified = new PreparedHead(LIST.slice(0, 6));
  t.equal(
    await rawResponse((_req, res) => (notModified.write(res, 304), res.end())),
    await rawResponse((_req, res) => res.writeHead(304, LIST.slice(0, 6)).end()),
    'a 304',
  );
});

t.test('headers are validated once, when prepared, as setHeader validates them', async (t) => {
  t.throws(() => new PreparedHead(['X-Bad', 'a\r\nSet-Cookie: x=1']), { code: 'ERR_INVALID_CHAR' });
  t.throws(() => new PreparedHead(['Bad Name', 'a']), { code: 'ERR_INVALID_HTTP_TOKEN' });
  t.throws(() => new PreparedHead(['X-Odd']), TypeError);
});

t.test('the shared map cannot be changed through a response once written', async (t) => {
  const head = new PreparedHead(LIST);
  let refused: unknown;
  await rawResponse((_req, res) => {
    head.write(res, 200);
    try {
      res.setHeader('X-Later', '1');
    } catch (err) {
      refused = err;
    }
    res.end('hello');
  });
  t.match(refused, { code: 'ERR_HTTP_HEADERS_SENT' });
  t.notMatch(await rawResponse((_req, res) => (head.write(res, 200), res.end('hello'))), /X-Later/);
});

t.test('a repeated name is written as listed (the slow way)', async (t) => {
  const list = ['Vary', 'Origin', 'Vary', 'Accept-Encoding', 'Content-Length', 0];
  t.equal(await rawResponse((_req, res) => (new PreparedHead(list).write(res, 200), res.end())), await rawResponse((_req, res) => res.writeHead(200, list).end()));
});
