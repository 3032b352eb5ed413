/** `framecast videos list|reprocess|delete`: the catalog from the command line. */
import { deleteVideo, reprocessVideo } from '../../catalog/video-operations.js';
import type { VideoStatus } from '../../storage/metadata-db.js';
import { commandGroup, idSubcommand, options, printRows, withServices } from '../cli-services.js';
import { UsageError } from '../command.js';

const STATUSES: readonly VideoStatus[] = ['awaiting_upload', 'uploading', 'processing', 'ready', 'failed'];

export default commandGroup('list, reprocess and delete videos', {
  list: {
    usage: '[--status S] [--owner TOKEN_ID] [--limit N] [--cursor C] [--json]',
    async run(args, ctx) {
      const { values } = options(args, { status: { type: 'string' }, owner: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' }, json: { type: 'boolean' } });
      const limit = values.limit === undefined ? 50 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit takes 1..1000');
      if (values.status !== undefined && !(STATUSES as readonly string[]).includes(values.status)) throw new UsageError(`--status takes one of ${STATUSES.join(', ')}`);
      const page = await withServices(ctx, (s) =>
        s.catalog.list({ limit, cursor: values.cursor, owner: values.owner, status: values.status as VideoStatus | undefined }),
      );
      const rows = page.items.map((v) => ({
        id: v.id,
        status: v.status,
        visibility: v.visibility,
        version: v.current_version,
        created_at: new Date(Number(v.created_at)).toISOString(),
        title: v.title,
      }));
      printRows(ctx, rows, ['id', 'status', 'visibility', 'version', 'created_at', 'title'], Boolean(values.json), { items: rows, next_cursor: page.next_cursor });
      if (!values.json && page.next_cursor) ctx.err(`more: --cursor ${page.next_cursor}`);
      return 0;
    },
  },
  reprocess: idSubcommand('video', async (s, id) => {
    const { version, sourceVersion } = await reprocessVideo(s, await s.catalog.get(id));
    return `queued ${id} v${version} (from the source of v${sourceVersion})`;
  }),
  delete: idSubcommand('video', async (s, id) => {
    await deleteVideo(s, await s.catalog.get(id));
    return `deleted ${id}`;
  }),
});
