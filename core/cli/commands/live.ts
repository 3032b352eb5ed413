/** `framecast live create`: a live with its stream key (shown once), as POST /v1/live makes it. */
import { LiveStore, liveView } from '../../live/live-store.js';
import { publicRtmpUrl, publicSrtUrl, srtPublishUrl } from '../../live/live-locations.js';
import { commandGroup, options, withServices } from '../cli-services.js';
import { UsageError } from '../command.js';

export default commandGroup('create a live (RTMP stream key)', {
  create: {
    usage: 'TITLE [--no-record] [--json]',
    async run(args, ctx) {
      const { values, positionals } = options(args, { 'no-record': { type: 'boolean' }, json: { type: 'boolean' } });
      const title = positionals.join(' ').trim();
      if (!title) throw new UsageError('a live needs a title');
      const { row, streamKey } = await withServices(ctx, (s) => new LiveStore(s.db.db).create({ title, record: !values['no-record'], owner: null }));
      const publicUrl = ctx.config.public_url;
      const host = publicUrl ? new URL(publicUrl).hostname : ctx.config.http.host === '0.0.0.0' ? 'localhost' : ctx.config.http.host;
      const srtUrl = publicSrtUrl(ctx.config.live, host);
      const created = {
        ...liveView(row, publicUrl),
        stream_key: streamKey,
        rtmp_url: publicRtmpUrl(ctx.config.live, host),
        srt_url: srtUrl,
        ...(srtUrl ? { srt_publish_url: srtPublishUrl(srtUrl, streamKey) } : {}),
      };
      if (values.json) ctx.out(JSON.stringify(created));
      else {
        ctx.out(`created live ${created.id}: publish to ${created.rtmp_url} with stream key (shown only now):`);
        ctx.out(streamKey);
        if (created.srt_publish_url) ctx.out(`or by SRT to ${created.srt_publish_url}`);
        ctx.out(`plays at ${created.playback.hls_url}`);
      }
      return 0;
    },
  },
});
