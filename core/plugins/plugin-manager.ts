/**
 * The plugin manager: loads the configured plugins, keeps their hook handlers in priority
 * order and runs them (core/plugins/hooks.ts says which hooks exist and how each fails).
 *
 * A plugin can never take a node down:
 *  - filter handlers run under a time limit; a handler that throws or overruns is handled
 *    by the hook's declared policy (fail closed, or skipped);
 *  - actions run after the caller moved on, each awaited in turn in the background, their
 *    errors logged;
 *  - a plugin whose register() throws is logged and left out; the node starts without it;
 *  - once plugins are loaded, unhandled rejections are logged instead of ending the process,
 *    and an uncaught exception whose stack is in a plugin's folder is logged and ignored.
 */
import type { Middleware } from 'koa';
import type { Kysely } from 'kysely';
import { Router } from '@koa/router';
import { AppError } from '../errors.js';
import { requireScope } from '../http/auth.js';
import type { AppState } from '../http/context.js';
import type { Logger } from '../logger.js';
import type { Database } from '../storage/metadata-db.js';
import {
  HOOKS,
  isHookName,
  type ActionHookName,
  type FilterHookName,
  type HookContext,
  type HookHandler,
  type HookName,
  type HookRegistration,
  type HookValue,
} from './hooks.js';
import { PluginRejection, ROUTE_METHODS, type PluginApi, type PluginModule, type PluginRole } from './plugin-api.js';
import { importPlugin, type PluginSpec } from './plugin-loader.js';

export interface PluginManagerOptions {
  logger: Logger;
  role: PluginRole;
  db: Kysely<Database>;
  /** Time limit of one filter handler (default 5 s). */
  filterTimeoutMs?: number;
  /** Where relative `path:`s and ./plugins/ are looked up (default the working directory). */
  cwd?: string;
}

interface Registered {
  plugin: string;
  priority: number;
  /** Registration order, the tie-break between equal priorities. */
  seq: number;
  handler: (value: unknown, context: unknown) => unknown;
}

interface LoadedPlugin {
  name: string;
  root: string;
  module: PluginModule;
  router: Router<AppState>;
}

/** A loaded plugin as `GET /plugins` style listings show it. */
export interface PluginInfo {
  name: string;
  hooks: HookName[];
}

const DEFAULT_FILTER_TIMEOUT_MS = 5000;

class FilterTimeout extends Error {
  override name = 'FilterTimeout';
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FilterTimeout(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class PluginManager {
  private readonly hooks = new Map<HookName, Registered[]>();
  private readonly plugins: LoadedPlugin[] = [];
  private readonly filterTimeoutMs: number;
  private seq = 0;
  private crashGuard: { rejection: (reason: unknown) => void; exception: (err: Error) => void } | undefined;

  constructor(private readonly opts: PluginManagerOptions) {
    this.filterTimeoutMs = opts.filterTimeoutMs ?? DEFAULT_FILTER_TIMEOUT_MS;
  }

  /** Loads and registers every configured plugin, in order. A plugin that fails is logged and skipped. */
  async load(specs: readonly PluginSpec[]): Promise<void> {
    if (specs.length > 0) this.installCrashGuard();
    for (const spec of specs) {
      const log = this.opts.logger.child({ plugin: spec.name });
      try {
        if (this.plugins.some((p) => p.name === spec.name)) throw new Error('listed twice');
        const { module, root } = await importPlugin(spec, this.opts.cwd ?? process.cwd());
        const plugin: LoadedPlugin = { name: spec.name, root, module, router: new Router<AppState>({ prefix: `/plugins/${spec.name}` }) };
        await module.register(this.api(plugin, spec.config ?? {}, log));
        this.plugins.push(plugin);
        log.info({ root }, 'plugin registered');
      } catch (err) {
        this.dropHandlers(spec.name);
        log.error({ err }, 'plugin failed to load; the node runs without it');
      }
    }
  }

  /** The loaded plugins and the hooks each registered. */
  list(): PluginInfo[] {
    return this.plugins.map((p) => ({
      name: p.name,
      hooks: [...this.hooks].filter(([, regs]) => regs.some((r) => r.plugin === p.name)).map(([hook]) => hook),
    }));
  }

  /** True when some plugin handles this hook (callers skip building its value otherwise). */
  has(hook: HookName): boolean {
    return (this.hooks.get(hook)?.length ?? 0) > 0;
  }

  /**
   * Runs a filter: each handler in priority order gets the previous one's value. A refusal
   * throws AppError with the hook's `rejectAs` code and the plugin's reason; a handler that
   * throws or overruns is handled by the hook's `onError` policy.
   */
  async filter<H extends FilterHookName>(hook: H, value: HookValue<H>, context: HookContext<H>): Promise<HookValue<H>> {
    const spec = HOOKS[hook];
    let current: HookValue<H> = value;
    for (const reg of this.hooks.get(hook) ?? []) {
      try {
        const next = await withTimeout(Promise.resolve().then(() => reg.handler(current, context)), this.filterTimeoutMs, `plugin "${reg.plugin}" on ${hook}`);
        if (next === undefined || next === null) throw new Error(`the ${hook} handler returned nothing (a filter returns its value)`);
        current = next as HookValue<H>;
      } catch (err) {
        if (err instanceof PluginRejection) {
          this.opts.logger.info({ plugin: reg.plugin, hook, reason: err.reason }, 'plugin refused');
          throw new AppError(spec.rejectAs, err.reason);
        }
        if (spec.onError === 'skip') {
          this.opts.logger.error({ err, plugin: reg.plugin, hook }, 'plugin filter failed; skipped');
          continue;
        }
        this.opts.logger.error({ err, plugin: reg.plugin, hook }, 'plugin filter failed; refusing (fails closed)');
        const why = err instanceof Error ? err.message : String(err);
        throw new AppError(spec.rejectAs, `plugin "${reg.plugin}" failed on ${hook}: ${why}`);
      }
    }
    return current;
  }

  /**
   * Tells the action's handlers, in priority order, after the caller moved on: never blocks
   * and never throws. Each handler gets its own copy of the value.
   */
  action<H extends ActionHookName>(hook: H, value: HookValue<H>, context: HookContext<H>): void {
    const regs = this.hooks.get(hook);
    if (!regs || regs.length === 0) return;
    void (async () => {
      for (const reg of regs) {
        try {
          await reg.handler(structuredClone(value), structuredClone(context));
        } catch (err) {
          this.opts.logger.error({ err, plugin: reg.plugin, hook }, 'plugin action failed; ignored');
        }
      }
    })();
  }

  /** Koa middleware serving every plugin's routes under /plugins/{name}/. */
  routes(): Middleware<AppState> {
    return async (ctx, next) => {
      const plugin = this.plugins.find((p) => ctx.path === `/plugins/${p.name}` || ctx.path.startsWith(`/plugins/${p.name}/`));
      if (!plugin) return next();
      await (plugin.router.routes() as unknown as Middleware<AppState>)(ctx, next);
    };
  }

  /** Calls every plugin's unregister() (in reverse order) and forgets their hooks. */
  async close(): Promise<void> {
    for (const p of [...this.plugins].reverse()) {
      try {
        await p.module.unregister?.();
      } catch (err) {
        this.opts.logger.error({ err, plugin: p.name }, 'plugin unregister failed');
      }
      this.dropHandlers(p.name);
    }
    this.plugins.length = 0;
    if (this.crashGuard) {
      process.off('unhandledRejection', this.crashGuard.rejection);
      process.off('uncaughtException', this.crashGuard.exception);
      this.crashGuard = undefined;
    }
  }

  private api(plugin: LoadedPlugin, config: Record<string, unknown>, logger: Logger): PluginApi {
    const role = this.opts.role;
    return {
      name: plugin.name,
      config: Object.freeze({ ...config }),
      logger,
      role,
      db: this.opts.db,
      registerHook: <H extends HookName>(r: HookRegistration<H>) => {
        if (!isHookName(r.target)) throw new Error(`"${String(r.target)}" is not a hook (known: ${Object.keys(HOOKS).join(', ')})`);
        if (typeof r.handler !== 'function') throw new Error(`the ${r.target} handler must be a function`);
        const priority = r.priority ?? 0;
        if (!Number.isFinite(priority)) throw new Error('priority must be a finite number');
        const list = this.hooks.get(r.target) ?? [];
        list.push({ plugin: plugin.name, priority, seq: this.seq++, handler: r.handler as HookHandler<HookName> as Registered['handler'] });
        list.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
        this.hooks.set(r.target, list);
      },
      reject: (reason: string) => new PluginRejection(plugin.name, String(reason)),
      registerRoute: (method, path, handler, options = {}) => {
        if (!ROUTE_METHODS.includes(method)) throw new Error(`route method must be one of ${ROUTE_METHODS.join(', ')}`);
        if (!path.startsWith('/')) throw new Error('a route path starts with "/"');
        const guarded: Middleware<AppState> = options.scope
          ? async (ctx, next) => {
              requireScope(ctx.state.principal, options.scope!);
              await handler(ctx, next);
            }
          : handler;
        const router = plugin.router;
        const mount = { GET: router.get, POST: router.post, PUT: router.put, PATCH: router.patch, DELETE: router.delete }[method];
        mount.call(router, path, guarded);
      },
    };
  }

  private dropHandlers(plugin: string): void {
    for (const [hook, regs] of this.hooks) {
      this.hooks.set(
        hook,
        regs.filter((r) => r.plugin !== plugin),
      );
    }
  }

  /** The plugin whose folder appears in the error's stack, if any. */
  private culprit(err: unknown): string | undefined {
    const stack = err instanceof Error ? (err.stack ?? '') : '';
    return this.plugins.find((p) => stack.includes(p.root))?.name;
  }

  private installCrashGuard(): void {
    const logger = this.opts.logger;
    const rejection = (reason: unknown) => {
      logger.error({ err: reason, plugin: this.culprit(reason) }, 'unhandled promise rejection (ignored)');
    };
    const exception = (err: Error) => {
      const plugin = this.culprit(err);
      if (plugin) {
        logger.error({ err, plugin }, 'a plugin threw outside any hook; ignored');
        return;
      }
      // Not a plugin's: end the process as Node would have.
      logger.fatal({ err }, 'uncaught exception');
      process.stderr.write(`${err.stack ?? String(err)}\n`);
      process.exit(1);
    };
    process.on('unhandledRejection', rejection);
    process.on('uncaughtException', exception);
    this.crashGuard = { rejection, exception };
  }
}
