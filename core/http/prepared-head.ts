/**
 * A response head whose headers are checked once, when it is prepared, not on every response.
 *
 * `res.writeHead(status, headers)` validates every name and value it is given, each through
 * two regular expressions inside a stack-hiding wrapper: on a hot playlist answered from
 * memory with its eleven headers (CORS, validators, caching, nosniff) that is about a tenth
 * of the request's CPU (perf, bench/origin). Headers set with `res.setHeader` are validated
 * when set and written as they are: Node keeps them in the response's own header map and
 * `writeHead(status)` writes that map without checking it again. A PreparedHead validates
 * its headers with Node's own validators once, builds that map once, and hands it to each
 * response it writes, where setHeader would have put it.
 *
 * The map's key is Node's private symbol; it is looked up once at start-up by setting a
 * header on a throwaway response and found by what it holds, not by name. A Node that keeps
 * its headers elsewhere gets `writeHead(status, list)`, validated per response, as before.
 */
import { OutgoingMessage, validateHeaderName, validateHeaderValue, type ServerResponse } from 'node:http';

/** Flat `[name, value, name, value, …]`, as `res.writeHead` takes it. */
export type HeaderList = readonly (string | number)[];

/** Node's header map: lowercased name → [name as written, value]. */
type HeaderMap = Record<string, [string, string | number]>;

const PROBE_NAME = 'X-Framecast-Probe';
const PROBE_VALUE = 'probe';

/** The symbol under which an OutgoingMessage keeps what setHeader set, if this Node has one. */
const HEADER_MAP: symbol | undefined = (() => {
  const probe = new OutgoingMessage();
  probe.setHeader(PROBE_NAME, PROBE_VALUE);
  const held = (key: symbol): unknown => (probe as unknown as Record<symbol, Record<string, unknown> | undefined>)[key]?.[PROBE_NAME.toLowerCase()];
  return Object.getOwnPropertySymbols(probe).find((key) => {
    const entry = held(key);
    return Array.isArray(entry) && entry.length === 2 && entry[0] === PROBE_NAME && entry[1] === PROBE_VALUE;
  });
})();

/** Whether prepared heads skip per-response validation on this Node (tests and benches report it). */
export const preparedHeadsSkipValidation = HEADER_MAP !== undefined;

export class PreparedHead {
  private readonly map: HeaderMap | undefined;

  /** Throws as setHeader would (ERR_INVALID_HTTP_TOKEN, ERR_INVALID_CHAR) on a bad name or value. */
  constructor(readonly list: HeaderList) {
    if (list.length % 2 !== 0) throw new TypeError('a header list is name, value pairs');
    const map: HeaderMap = Object.create(null) as HeaderMap;
    for (let i = 0; i < list.length; i += 2) {
      const name = String(list[i]);
      const value = list[i + 1]!;
      validateHeaderName(name);
      validateHeaderValue(name, String(value));
      const key = name.toLowerCase();
      // One entry per name in Node's map; a repeated name is written the slow way, as listed.
      if (key in map) {
        this.map = undefined;
        return;
      }
      map[key] = [name, value];
    }
    this.map = HEADER_MAP === undefined ? undefined : map;
  }

  /**
   * Writes the head. The response must have no header set yet (what it had is replaced), and
   * nothing may set one afterwards: Node refuses setHeader once the head is written, so the
   * shared map is never changed through a response.
   */
  write(res: ServerResponse, status: number): void {
    if (this.map === undefined) {
      res.writeHead(status, this.list as (string | number)[]);
      return;
    }
    (res as unknown as Record<symbol, HeaderMap>)[HEADER_MAP!] = this.map;
    res.writeHead(status);
  }
}
