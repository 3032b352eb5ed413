/** The README's configuration reference documents every key of config/default.yaml. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers/server.js';

function keys(tree: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]) => {
    const key = prefix + k;
    // Lists (ladder, plugins, roles) are documented as one key.
    return v && typeof v === 'object' && !Array.isArray(v) ? keys(v as Record<string, unknown>, `${key}.`) : [key];
  });
}

t.test('every config key has a row in the README', async (t) => {
  const defaults = parse(await readFile(join(REPO_ROOT, 'config/default.yaml'), 'utf8')) as Record<string, unknown>;
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  for (const key of keys(defaults)) t.ok(readme.includes(`| \`${key}\` |`), key);
});
