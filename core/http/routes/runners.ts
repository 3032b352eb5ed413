/**
 * Remote runners (issue 16): the admin's calls under /v1/runners (registration tokens, list,
 * drain, revoke) and the runners' own calls under /v1/runner/ (core/runners/protocol.ts),
 * which authenticate with a runner token instead of an API token.
 */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { ProbeResult } from '../../media/types.js';
import { claimBody, completeBody, failBody, JOB_TOKEN_HEADER, progressBody, registerBody, uploadsBody } from '../../runners/protocol.js';
import { RunnerRegistry, runnerView } from '../../runners/registry.js';
import { RunnerJobs } from '../../runners/runner-jobs.js';
import type { Services } from '../../services.js';
import { requireScope } from '../auth.js';
import { readJson } from '../body.js';
import type { AppState } from '../context.js';
import type { Context } from 'koa';

/** Paths whose callers are runners: the API-token check is skipped there (they bring their own). */
export const RUNNER_API_PREFIX = '/v1/runner/';

const probeBody = z.object({
  probe: z.object({ duration_ms: z.number().min(0), width: z.number(), height: z.number(), has_video: z.boolean() }).passthrough(),
  /** The source's keyframe times (s), sent when it is long enough to be chunked (offer `transcode.chunk_min_s`). */
  keyframes: z.array(z.number().min(0)).max(1_000_000).optional(),
});

export function runnerRoutes(router: Router<AppState>, s: Services): void {
  const registry = new RunnerRegistry(s.db.db);
  const jobs = new RunnerJobs(s);

  router.post('/v1/runners/tokens', async (ctx) => {
    requireScope(ctx.state.principal, 'admin');
    const created = await registry.createRegistrationToken();
    s.logger.info({ registration_token_id: created.id }, 'runner registration token created');
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = created;
  });

  router.get('/v1/runners', async (ctx) => {
    requireScope(ctx.state.principal, 'admin');
    ctx.body = { items: (await registry.list()).map(runnerView) };
  });

  router.post('/v1/runners/:id/drain', async (ctx) => {
    requireScope(ctx.state.principal, 'admin');
    const row = await registry.drain(ctx.params.id ?? '');
    s.logger.info({ runner_id: row.id }, 'runner draining');
    ctx.body = runnerView(row);
  });

  router.delete('/v1/runners/:id', async (ctx) => {
    requireScope(ctx.state.principal, 'admin');
    const row = await registry.revoke(ctx.params.id ?? '');
    s.logger.info({ runner_id: row.id }, 'runner revoked');
    ctx.body = runnerView(row);
  });

  // The runners' own API.
  router.post(`${RUNNER_API_PREFIX}register`, async (ctx) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'));
    if (!m) throw new AppError('E_UNAUTHORIZED', 'a registration token is required');
    const tokenId = await registry.registrationTokenId(m[1]!);
    const body = registerBody.parse(await readJson(ctx));
    const created = await registry.register(tokenId, body);
    s.logger.info({ runner_id: created.id, runner_name: body.name, encoders: body.encoders }, 'runner registered');
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = created;
  });

  router.post(`${RUNNER_API_PREFIX}jobs/claim`, async (ctx) => {
    const runner = await registry.authenticate(ctx.get('authorization'));
    const body = claimBody.parse(await readJson(ctx));
    if (body.encoders) {
      await registry.setEncoders(runner.id, body.encoders);
      runner.encoders = JSON.stringify(body.encoders);
    }
    // The long-poll ends early when the runner hangs up (the request's own 'close' fires
    // once its body is read; the response's only when answered or the socket closes).
    const gone = new AbortController();
    ctx.res.once('close', () => gone.abort());
    const offer = await jobs.claim(runner, JSON.parse(runner.encoders) as string[], body.wait_s * 1000, gone.signal);
    ctx.set('Cache-Control', 'no-store');
    if (!offer) {
      ctx.status = 204;
      ctx.set('Framecast-Runner-State', runner.state);
      return;
    }
    ctx.body = offer;
  });

  const heldJob = async (ctx: Context) => {
    const runner = await registry.authenticate(ctx.get('authorization'));
    const id = Number(ctx.params.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw new AppError('E_NOT_FOUND', `job ${ctx.params.id} not found`);
    return jobs.held(runner, id, ctx.get(JOB_TOKEN_HEADER) || undefined);
  };

  router.post(`${RUNNER_API_PREFIX}jobs/:id/probe`, async (ctx) => {
    const job = await heldJob(ctx);
    const { probe, keyframes } = probeBody.parse(await readJson(ctx));
    ctx.body = await jobs.probe(job, probe as unknown as ProbeResult, keyframes);
  });

  router.post(`${RUNNER_API_PREFIX}jobs/:id/progress`, async (ctx) => {
    const job = await heldJob(ctx);
    await jobs.progress(job, progressBody.parse(await readJson(ctx)));
    ctx.status = 204;
  });

  router.post(`${RUNNER_API_PREFIX}jobs/:id/uploads`, async (ctx) => {
    const job = await heldJob(ctx);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await jobs.uploads(job, uploadsBody.parse(await readJson(ctx)).files);
  });

  router.post(`${RUNNER_API_PREFIX}jobs/:id/complete`, async (ctx) => {
    const job = await heldJob(ctx);
    await jobs.complete(job, completeBody.parse(await readJson(ctx)));
    ctx.status = 204;
  });

  router.post(`${RUNNER_API_PREFIX}jobs/:id/fail`, async (ctx) => {
    const job = await heldJob(ctx);
    await jobs.reportFailure(job, failBody.parse(await readJson(ctx)));
    ctx.status = 204;
  });
}
