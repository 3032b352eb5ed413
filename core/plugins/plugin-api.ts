/**
 * What a plugin sees (API.md "Plugins"). A plugin is an ES module exporting
 * `register(api)` and optionally `unregister()`; built-in plugins (plugins/) use exactly
 * this interface.
 */
import type { Middleware } from 'koa';
import type { Kysely } from 'kysely';
import type { Scope } from '../http/auth.js';
import type { AppState } from '../http/context.js';
import type { Logger } from '../logger.js';
import type { Database } from '../storage/metadata-db.js';
import type { HookName, HookRegistration } from './hooks.js';

/** Which process a plugin is loaded in: it is loaded in every one that fires hooks. */
export type PluginRole = 'http' | 'media' | 'cli';

export const ROUTE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type RouteMethod = (typeof ROUTE_METHODS)[number];

export interface RouteOptions {
  /** The caller needs a token with this scope (401/403 otherwise); default: anyone. */
  scope?: Scope;
}

/** A plugin's refusal: what `api.reject(reason)` makes, to be thrown from a filter. */
export class PluginRejection extends Error {
  override name = 'PluginRejection';

  constructor(
    readonly plugin: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export interface PluginApi {
  /** The plugin's name as configured (its routes live under /plugins/{name}/). */
  readonly name: string;
  /** The plugin's `config:` block (an empty object when none). */
  readonly config: Readonly<Record<string, unknown>>;
  /** A pino child logger bound to `plugin: name`. */
  readonly logger: Logger;
  /** The process the plugin runs in this time (it is loaded in each). */
  readonly role: PluginRole;
  /** The metadata database (Kysely), for plugins that keep state (webhooks' delivery log). */
  readonly db: Kysely<Database>;
  /** Registers a filter or action handler. A name that is not a hook throws. */
  registerHook<H extends HookName>(registration: HookRegistration<H>): void;
  /** The error a filter throws to refuse: `throw api.reject('too long')`. */
  reject(reason: string): PluginRejection;
  /**
   * Mounts a Koa handler at `/plugins/{name}{path}` (path starts with `/`, @koa/router
   * syntax: `/items/:id`). Only HTTP processes serve routes; elsewhere this is a no-op.
   */
  registerRoute(method: RouteMethod, path: string, handler: Middleware<AppState>, options?: RouteOptions): void;
}

/** The module a plugin exports. */
export interface PluginModule {
  register(api: PluginApi): void | Promise<void>;
  unregister?(): void | Promise<void>;
}
