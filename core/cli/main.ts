#!/usr/bin/env node
/**
 * `framecast <command> [args]`: operator commands run against the same configuration as a
 * node (`--config FILE`, FRAMECAST_* env). Exit codes: 0 success, 1 the command found or
 * hit a problem, 2 wrong usage or configuration.
 */
import { ConfigError, loadConfig } from '../../config/load.js';
import { UsageError, type CliCommand, type CliContext } from './command.js';

/** Commands by name; add one by adding a file under ./commands/ and a line here. */
const commands: Record<string, () => Promise<{ default: CliCommand }>> = {
  fsck: () => import('./commands/fsck.js'),
  tokens: () => import('./commands/tokens.js'),
  videos: () => import('./commands/videos.js'),
  jobs: () => import('./commands/jobs.js'),
  live: () => import('./commands/live.js'),
  config: () => import('./commands/config.js'),
  runner: () => import('./commands/runner.js'),
  runners: () => import('./commands/runners.js'),
};

const EXIT_USAGE = 2;

async function help(out: (line: string) => void): Promise<void> {
  out('usage: framecast [--config FILE] <command> [args]');
  out('');
  for (const [name, load] of Object.entries(commands)) {
    const { default: cmd } = await load();
    out(`  ${`${name} ${cmd.usage}`.padEnd(36)} ${cmd.summary}`);
  }
}

/** Splits `[--config FILE] [--help] <command> [args…]`: options before the command are global. */
function splitArgv(argv: readonly string[]): { config?: string; help: boolean; name?: string; args: readonly string[] } {
  let config: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--config') config = argv[++i];
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else if (a === '--help' || a === '-h') help = true;
    else return { ...(config ? { config } : {}), help, name: a, args: argv.slice(i + 1) };
  }
  return { ...(config ? { config } : {}), help, args: [] };
}

/** Runs one invocation; `argv` is what follows the program name. Resolves to the exit code. */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const out = (line: string) => void process.stdout.write(`${line}\n`);
  const err = (line: string) => void process.stderr.write(`${line}\n`);
  const { config: file, help: wantsHelp, name, args } = splitArgv(argv);
  if (name === undefined || name === 'help') {
    await help(out);
    return name === undefined && !wantsHelp ? EXIT_USAGE : 0;
  }
  const load = commands[name];
  if (!load) {
    err(`framecast: unknown command "${name}"`);
    await help(err);
    return EXIT_USAGE;
  }
  const { default: command } = await load();
  let ctx: CliContext;
  try {
    ctx = { config: loadConfig({ file, env }), out, err };
  } catch (e) {
    if (e instanceof ConfigError) {
      err(`framecast: ${e.message}`);
      return EXIT_USAGE;
    }
    throw e;
  }
  try {
    return await command.run(args, ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`framecast ${name}: ${e.message}`);
      err(`usage: framecast ${name} ${command.usage}`);
      return EXIT_USAGE;
    }
    err(`framecast ${name}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

process.exitCode = await runCli(process.argv.slice(2));
