/**
 * `vod.chunk` on an in-cluster worker: one part of a long source's chunked transcode
 * (core/jobs/chunked.ts). It encodes the part with the workers' transcode pool and stores
 * its outputs in the version's staging under the names vod.finish joins (chunk-plan.ts
 * `chunkOutputKey`); a remote runner does the same through core/runners/runner-jobs.ts.
 * Nothing here touches the version's playable state or the rest of staging: the other
 * parts are being written beside it.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkOutputKey, partName } from '../../media/chunk-plan.js';
import type { ProbeResult } from '../../media/types.js';
import type { Services } from '../../services.js';
import { objectKeys } from '../../storage/object-store.js';
import { AppError } from '../../errors.js';
import { failChunkedVersion, recordPartDone } from '../chunked.js';
import type { JobHandler } from '../runner.js';
import { withStepTimeout } from '../step-timeout.js';
import { listFiles, videoTranscodeTask, type MediaToolkit } from './vod-process.js';

export function vodChunkHandler(s: Services, media: MediaToolkit): JobHandler<'vod.chunk'> {
  const { catalog, store, config } = s;
  return {
    async run(job, ctx) {
      const { videoId, version, sourceVersion, part, ladder } = job.payload;
      const row = (await catalog.find(videoId)) ? await catalog.version(videoId, version) : undefined;
      if (!row) {
        ctx.logger.info('video or version is gone; nothing to do');
        return;
      }
      if (!row.probe) throw new AppError('E_TRANSCODE_FAILED', 'the version has no accepted probe to encode a part by');
      const probe = JSON.parse(row.probe) as ProbeResult;
      const workRoot = join(config.data_dir, 'work');
      const prefix = `${videoId}-v${version}-${partName(part)}-job${job.id}-a`;
      for (const d of await readdir(workRoot).catch(() => [] as string[])) if (d.startsWith(prefix)) await rm(join(workRoot, d), { recursive: true, force: true });
      const workDir = join(workRoot, `${prefix}${job.attempts}`);
      const outDir = join(workDir, 'out');
      await mkdir(outDir, { recursive: true });
      try {
        const sourceKey = objectKeys.source(videoId, sourceVersion);
        let sourcePath = store.localPath?.(sourceKey);
        if (!sourcePath) {
          sourcePath = join(workDir, 'source');
          const target = sourcePath;
          await withStepTimeout(ctx.signal, config.jobs.step_timeout_s, 'downloading the source', (signal) => store.download(sourceKey, target, { signal }));
        }
        const result = await media.transcode(
          { ...(await videoTranscodeTask(s, media, videoId, { sourcePath, outDir, probe, ladder })), part },
          { signal: ctx.signal },
        );
        const staging = objectKeys.staging(videoId, version);
        for (const rel of await listFiles(outDir)) {
          const key = chunkOutputKey(part, rel);
          if (key) await store.putFile(staging + key, join(outDir, rel));
        }
        await recordPartDone(s, job.payload, result);
        ctx.logger.info({ part: partName(part), frames: result.chunk?.frames }, 'chunk encoded');
      } finally {
        await rm(workDir, { recursive: true, force: true });
      }
    },
    async failed(job, error, final) {
      if (final) await failChunkedVersion(s, job.payload, job.id, error);
    },
  };
}
