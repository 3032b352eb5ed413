/**
 * What a `framecast` subcommand is. Each command is one file under ./commands/ that
 * default-exports a `CliCommand`; main.ts maps names to those files (loaded lazily).
 */
import type { Config } from '../../config/schema.js';

/** Where a command writes: stdout for results, stderr for diagnostics. */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

export interface CliContext extends CliOutput {
  /** The node's configuration (defaults → --config file → FRAMECAST_* env). */
  config: Readonly<Config>;
}

export interface CliCommand {
  /** One line for `framecast help`. */
  summary: string;
  /** Usage text after `framecast NAME`, e.g. `[--fix] [--json]`. */
  usage: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(args: readonly string[], ctx: CliContext): Promise<number>;
}

/** Thrown for a wrong invocation: main prints the message and the usage, exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
