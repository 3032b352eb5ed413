/** `framecast runners token|list|drain|revoke`: remote runners' administration (issue 16). */
import { RunnerRegistry, runnerView } from '../../runners/registry.js';
import { commandGroup, idSubcommand, options, printRows, withServices } from '../cli-services.js';

export default commandGroup('make registration tokens for remote runners; list, drain and revoke runners', {
  token: {
    usage: '[--json]',
    async run(args, ctx) {
      const { values } = options(args, { json: { type: 'boolean' } });
      const created = await withServices(ctx, (s) => new RunnerRegistry(s.db.db).createRegistrationToken());
      if (values.json) ctx.out(JSON.stringify(created));
      else {
        ctx.out(`created runner registration token ${created.id}. It is shown only now; start a runner with`);
        ctx.out(`  framecast runner --url NODE_URL --token ${created.token}`);
      }
      return 0;
    },
  },
  list: {
    usage: '[--json]',
    async run(args, ctx) {
      const { values } = options(args, { json: { type: 'boolean' } });
      const rows = (await withServices(ctx, (s) => new RunnerRegistry(s.db.db).list())).map(runnerView);
      printRows(ctx, rows as unknown as Record<string, unknown>[], ['id', 'name', 'state', 'encoders', 'last_seen_at'], Boolean(values.json));
      return 0;
    },
  },
  drain: idSubcommand('runner', async (s, id) => {
    const row = await new RunnerRegistry(s.db.db).drain(id);
    return `runner ${row.id} (${row.name}) is ${row.state}: it finishes its job and takes no more`;
  }),
  revoke: idSubcommand('runner', async (s, id) => {
    const row = await new RunnerRegistry(s.db.db).revoke(id);
    return `runner ${row.id} (${row.name}) is revoked: its token is refused and its jobs go to others`;
  }),
});
