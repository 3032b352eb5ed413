/** `framecast tokens create|list|revoke`: API tokens with scopes (API.md "Auth"). */
import { listTokens, revokeToken } from '../../admin/api-tokens.js';
import { SCOPES, type Scope } from '../../http/auth.js';
import { commandGroup, idSubcommand, options, printRows, withServices } from '../cli-services.js';
import { UsageError } from '../command.js';

export default commandGroup('create, list and revoke API tokens', {
  create: {
    usage: 'NAME --scopes upload,read,admin [--json]',
    async run(args, ctx) {
      const { values, positionals } = options(args, { scopes: { type: 'string' }, json: { type: 'boolean' } });
      const name = positionals[0];
      if (!name) throw new UsageError('a token needs a name');
      const scopes = String(values.scopes ?? '').split(',').filter(Boolean);
      if (scopes.length === 0 || !scopes.every((s) => (SCOPES as readonly string[]).includes(s))) throw new UsageError(`--scopes takes a comma list of ${SCOPES.join(', ')}`);
      const created = await withServices(ctx, (s) => s.auth.createToken(name, scopes as Scope[]));
      if (values.json) ctx.out(JSON.stringify(created));
      else {
        ctx.out(`created token ${created.id} (${created.name}; scopes ${created.scopes.join(',')}). It is shown only now:`);
        ctx.out(created.token);
      }
      return 0;
    },
  },
  list: {
    usage: '[--json]',
    async run(args, ctx) {
      const { values } = options(args, { json: { type: 'boolean' } });
      const tokens = await withServices(ctx, (s) => listTokens(s.db.db));
      printRows(ctx, tokens as unknown as Record<string, unknown>[], ['id', 'name', 'scopes', 'created_at', 'revoked_at'], Boolean(values.json));
      return 0;
    },
  },
  revoke: idSubcommand('token', async (s, id) => {
    const token = await revokeToken(s.db.db, id);
    return `revoked token ${token.id} (${token.name})`;
  }),
});
