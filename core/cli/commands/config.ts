/**
 * `framecast config check [FILE]`: validates a config file (merged over the defaults, with
 * FRAMECAST_* env on top, exactly as a node would load it) and prints the effective
 * configuration as YAML with secrets masked. Exit 0 when valid, 1 when not.
 */
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../../../config/load.js';
import type { Config } from '../../../config/schema.js';
import { commandGroup } from '../cli-services.js';

const MASK = '********';
const SECRET_KEY = /secret|token|password|passwd|credential|private|api_?key/i;

/** Credentials inside a URL (`s3://KEY:SECRET@host`, `postgres://user:pass@host`). */
function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_, scheme: string, creds: string) => `${scheme}${creds.includes(':') ? `${creds.split(':')[0]}:${MASK}` : MASK}@`);
}

function maskTree(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return value !== '' && SECRET_KEY.test(key) ? MASK : maskUrl(value);
  if (Array.isArray(value)) return value.map((v) => maskTree(v, key));
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskTree(v, k)]));
  return value;
}

/** The configuration with every secret replaced by asterisks. */
export function maskedConfig(cfg: Readonly<Config>): unknown {
  return maskTree(cfg);
}

export default commandGroup('validate a config file and print the effective config (secrets masked)', {
  check: {
    usage: '[FILE]',
    async run(args, ctx) {
      let cfg = ctx.config;
      if (args[0] !== undefined) {
        try {
          cfg = loadConfig({ file: args[0] });
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          ctx.err(`${args[0]}: ${err.message}`);
          return 1;
        }
      }
      ctx.out(`# valid${args[0] ? `: ${args[0]}` : ''} (defaults, then the file, then FRAMECAST_* environment variables)`);
      ctx.out(stringify(maskedConfig(cfg)).trimEnd());
      return 0;
    },
  },
});
