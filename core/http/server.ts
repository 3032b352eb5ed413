/**
 * One http.Server: tus uploads under /v1/uploads, media under /media/ (the origin's fast
 * path), everything else through Koa.
 * Koa stays small: auth → error bodies → routes.
 */
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import Koa from 'koa';
import { Router } from '@koa/router';
import type { Services } from '../services.js';
import { createUploadHandler, UPLOADS_PATH } from '../uploads/tus.js';
import { createNodePartsHandler, NODE_PARTS_PATH } from '../uploads/node-parts-handler.js';
import { serveSignedObject, SIGNED_OBJECTS_PATH } from '../storage/object-urls.js';
import type { AppState } from './context.js';
import { clientIpResolver } from './client-ip.js';
import { problemMiddleware } from './problem.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes, type ReadinessProbe } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { RUNNER_API_PREFIX, runnerRoutes } from './routes/runners.js';
import { liveRoutes } from './routes/live.js';
import { isWhipPath, liveWhipRoutes } from './routes/live-whip.js';
import { ANONYMOUS } from './auth.js';
import { createMediaHandler } from './routes/media.js';
import { originStatsRoutes } from './routes/origin-stats.js';
import { pageRoutes } from './routes/pages.js';
import { searchRoutes } from './routes/search.js';
import { statsRoutes } from './routes/stats.js';
import { tokenRoutes } from './routes/tokens.js';
import { videoRoutes } from './routes/videos.js';
import { multipartRoutes } from './routes/multipart.js';
import { captionRoutes } from './routes/captions.js';
import { clipRoutes } from './routes/clips.js';
import { posterRoutes } from './routes/posters.js';
import { feedRoutes } from './routes/feed.js';
import { oembedRoutes } from './routes/oembed.js';
import { relatedRoutes } from './routes/related.js';
import { metricsRoutes } from './routes/metrics.js';
import { openApiRoutes } from './routes/openapi.js';
import { countDroppedConnection, httpMetricsMiddleware, observeRawRequest } from '../telemetry/metrics.js';
import { enforceBodyDeadline, enforceUploadIdleTimeout } from './deadlines.js';
import { externalMediaSources, securityHeadersMiddleware, setBaseSecurityHeaders } from './security-headers.js';

export interface HttpServerOptions {
  readiness?: ReadinessProbe[];
}

export function createKoaApp(s: Services, opts: HttpServerOptions = {}): Koa<AppState> {
  // Koa's own proxy support takes the leftmost X-Forwarded-For entry, which the client
  // writes: ctx.ip comes from the walk over trusted proxies instead (http.trust_proxy).
  const app = new Koa<AppState>({ proxy: false });
  const clientIp = clientIpResolver(s.config.http.trust_proxy);
  app.use((ctx, next) => {
    ctx.request.ip = clientIp(ctx.req);
    return next();
  });
  const mediaSources = externalMediaSources(s.config);
  app.use(securityHeadersMiddleware(mediaSources));
  app.use(httpMetricsMiddleware());
  app.use(problemMiddleware(s.logger));
  app.use(async (ctx, next) => {
    // Runners bring a runner token, checked by their routes (routes/runners.ts); a WHIP
    // request's bearer token is a stream key, checked by its route.
    const ownCredentials = ctx.path.startsWith(RUNNER_API_PREFIX) || isWhipPath(ctx.path);
    ctx.state.principal = ownCredentials ? ANONYMOUS : await s.auth.principal(ctx.get('authorization') || undefined);
    await next();
  });
  const router = new Router<AppState>();
  healthRoutes(router, s, opts.readiness);
  videoRoutes(router, s);
  multipartRoutes(router, s);
  captionRoutes(router, s);
  clipRoutes(router, s);
  posterRoutes(router, s);
  relatedRoutes(router, s);
  searchRoutes(router, s);
  eventRoutes(router, s);
  statsRoutes(router, s);
  tokenRoutes(router, s);
  jobRoutes(router, s);
  runnerRoutes(router, s);
  originStatsRoutes(router, s);
  liveRoutes(router, s);
  liveWhipRoutes(router, s);
  pageRoutes(router, s, mediaSources);
  oembedRoutes(router, s);
  feedRoutes(router, s);
  metricsRoutes(router, s);
  openApiRoutes(router);
  // Plugin routes (/plugins/{name}/…) come first; unmatched requests fall through to ours.
  app.use(s.plugins.routes());
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.on('error', (err: Error & { code?: string }) => {
    // Clients that go away mid-request are not our failure.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'ERR_STREAM_PREMATURE_CLOSE' || /Parse Error|aborted/.test(err.message)) return;
    s.logger.error({ err }, 'http error');
  });
  return app;
}

/**
 * Past `max` open connections (per HTTP process), new ones are closed on arrival and
 * counted. Not Node's `server.maxConnections`: under node:cluster a worker over it hands the
 * connection back to the primary, which queues it for another worker instead of refusing it.
 */
function capConnections(server: Server, max: number): void {
  if (max <= 0) return;
  let open = 0;
  server.on('connection', (socket: Socket) => {
    if (open >= max) {
      countDroppedConnection();
      socket.destroy();
      return;
    }
    open++;
    socket.once('close', () => open--);
  });
}

export function createHttpServer(s: Services, opts: HttpServerOptions = {}): Server {
  const app = createKoaApp(s, opts);
  const koa = app.callback();
  const uploads = createUploadHandler(s);
  const media = createMediaHandler(s);
  const parts = createNodePartsHandler(s);
  const limits = s.config.http;
  const server = createServer(
    {
      headersTimeout: limits.headers_timeout_ms,
      requestTimeout: 0, // per route instead (deadlines.ts): uploads may take hours
      // How often Node looks for requests over headersTimeout; its default (30 s) would let
      // a slow client overstay a short limit by that much.
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(limits.headers_timeout_ms / 4))),
    },
    (req, res) => {
      const path = req.url ?? '/';
      if (path.startsWith('/media/')) {
        // Sets its own security headers and counts its own requests: a prepared answer
        // writes all its headers in one writeHead and needs no 'finish' listener.
        media(req, res);
        return;
      }
      setBaseSecurityHeaders(res);
      if (path.startsWith(SIGNED_OBJECTS_PATH)) {
        // Bodies of any size at their own pace (like uploads): no Koa body deadline.
        observeRawRequest(req, res, SIGNED_OBJECTS_PATH);
        enforceUploadIdleTimeout(req, limits.upload_idle_timeout_ms, s.logger);
        void serveSignedObject(s.objectUrls, s.store, s.logger, req, res);
      } else if (path === UPLOADS_PATH || path.startsWith(`${UPLOADS_PATH}/`) || path.startsWith(`${UPLOADS_PATH}?`)) {
        observeRawRequest(req, res, UPLOADS_PATH);
        enforceUploadIdleTimeout(req, limits.upload_idle_timeout_ms, s.logger);
        void uploads.handle(req, res);
      } else if (path.startsWith(`${NODE_PARTS_PATH}/`)) {
        observeRawRequest(req, res, NODE_PARTS_PATH);
        enforceUploadIdleTimeout(req, limits.upload_idle_timeout_ms, s.logger);
        void parts(req, res);
      } else {
        enforceBodyDeadline(req, res, limits.body_timeout_ms, s.logger);
        void koa(req, res);
      }
    },
  );
  server.keepAliveTimeout = 65_000;
  capConnections(server, limits.max_connections);
  return server;
}
