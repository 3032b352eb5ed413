/**
 * What the admin commands share: the node's services opened against its configuration
 * (logs to stderr at warn, so stdout carries only results), subcommand dispatch, and
 * output as aligned text or `--json`.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { pino } from 'pino';
import { closeServices, openServices } from '../open-services.js';
import type { Services } from '../services.js';
import { UsageError, type CliCommand, type CliContext } from './command.js';

export async function withServices<T>(ctx: CliContext, work: (s: Services) => Promise<T>): Promise<T> {
  const logger = pino({ level: 'warn', base: { role: 'cli' } }, pino.destination(2));
  const s = await openServices(ctx.config, logger, 'cli');
  try {
    return await work(s);
  } finally {
    await closeServices(s);
  }
}

/** One subcommand of a command group (`framecast tokens create …`). */
export interface Subcommand {
  usage: string;
  run(args: string[], ctx: CliContext): Promise<number>;
}

/** A command made of subcommands: `framecast NAME SUB [args]`. */
export function commandGroup(summary: string, subs: Record<string, Subcommand>): CliCommand {
  return {
    summary,
    usage: Object.entries(subs)
      .map(([name, sub]) => `${name}${sub.usage ? ` ${sub.usage}` : ''}`)
      .join(' | '),
    async run(args, ctx) {
      const [name, ...rest] = args;
      const sub = name === undefined ? undefined : subs[name];
      if (!sub) throw new UsageError(name === undefined ? 'which subcommand?' : `unknown subcommand "${name}"`);
      return sub.run(rest, ctx);
    },
  };
}

/** Prints rows as aligned columns, or as one JSON document with `json`. */
export function printRows(ctx: CliContext, rows: Record<string, unknown>[], columns: string[], json: boolean, whole: unknown = { items: rows }): void {
  if (json) {
    ctx.out(JSON.stringify(whole));
    return;
  }
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : Array.isArray(v) ? v.join(',') : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  ctx.out(line(columns.map((c) => c.toUpperCase())));
  for (const r of rows) ctx.out(line(columns.map((c) => cell(r[c]))));
}

/** Parses a subcommand's options and positionals; a wrong option is a usage error. */
export function options<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], opts: T) {
  try {
    return parseArgs({ args, options: opts, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** A subcommand taking one id: runs `act` with the services and prints the line it returns. */
export function idSubcommand(what: string, act: (s: Services, id: string) => Promise<string>): Subcommand {
  return {
    usage: 'ID',
    async run(args, ctx) {
      const id = args[0];
      if (!id) throw new UsageError(`which ${what} id?`);
      ctx.out(await withServices(ctx, (s) => act(s, id)));
      return 0;
    },
  };
}
