/**
 * `framecast runner --url URL --token TOKEN`: runs this machine as a remote runner of the
 * node at URL (core/runners/remote-runner.ts). Needs ffmpeg, no database or storage.
 */
import { createLogger } from '../../logger.js';
import { RemoteRunner } from '../../runners/remote-runner.js';
import type { CliCommand } from '../command.js';
import { UsageError } from '../command.js';
import { options } from '../cli-services.js';

const command: CliCommand = {
  summary: 'transcode for a node as a remote runner (outbound HTTP only, no DB or storage credentials)',
  usage: '--url URL --token TOKEN [--name NAME] [--work-dir DIR] [--state FILE] [--wait-s N]',
  async run(args, ctx) {
    const { values } = options([...args], {
      url: { type: 'string' },
      token: { type: 'string' },
      name: { type: 'string' },
      'work-dir': { type: 'string' },
      state: { type: 'string' },
      'wait-s': { type: 'string' },
    });
    if (!values.url || !values.token) throw new UsageError('--url and --token are required');
    const waitS = values['wait-s'] === undefined ? 25 : Number(values['wait-s']);
    if (!(waitS >= 1 && waitS <= 60)) throw new UsageError('--wait-s (how long one claim waits on the node for a job) is 1 to 60');
    try {
      new URL(values.url);
    } catch {
      throw new UsageError(`--url is not a URL: ${values.url}`);
    }
    const runner = new RemoteRunner({
      url: values.url,
      token: values.token,
      name: values.name,
      workDir: values['work-dir'],
      stateFile: values.state,
      waitS,
      logger: createLogger(ctx.config.log_level, { role: 'runner' }),
    });
    process.once('SIGTERM', () => runner.stop());
    process.once('SIGINT', () => runner.stop());
    return runner.run();
  },
};

export default command;
