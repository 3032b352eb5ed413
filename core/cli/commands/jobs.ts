/** `framecast jobs list|retry`: the processing queue. */
import { retryJob } from '../../admin/job-retry.js';
import type { JobStatus } from '../../storage/metadata-db.js';
import { jobView } from '../../http/routes/jobs.js';
import { commandGroup, idSubcommand, options, printRows, withServices } from '../cli-services.js';
import { UsageError } from '../command.js';

const STATUSES: readonly JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'dead'];

export default commandGroup('list processing jobs; retry a dead one', {
  list: {
    usage: '[--status S] [--limit N] [--json]',
    async run(args, ctx) {
      const { values } = options(args, { status: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } });
      if (values.status !== undefined && !(STATUSES as readonly string[]).includes(values.status)) throw new UsageError(`--status takes one of ${STATUSES.join(', ')}`);
      const limit = values.limit === undefined ? 100 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit takes 1..1000');
      const jobs = await withServices(ctx, async (s) => Promise.all((await s.queue.list({ status: values.status as JobStatus | undefined, limit })).map((j) => jobView(s, j))));
      printRows(ctx, jobs, ['id', 'type', 'status', 'video_id', 'version', 'attempts', 'stage', 'last_error'], Boolean(values.json));
      return 0;
    },
  },
  retry: idSubcommand('job', async (s, raw) => {
    const id = Number(raw);
    if (!Number.isSafeInteger(id) || id <= 0) throw new UsageError(`"${raw}" is not a job id`);
    const job = await retryJob(s.db.db, id);
    return `queued job ${job.id} again${job.video_id ? ` (video ${job.video_id} v${job.version})` : ''}`;
  }),
});
