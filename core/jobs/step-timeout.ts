/**
 * A time limit for one step of a job (ffprobe, the source download) on top of the job's own
 * signal: a step that hangs is torn down after `jobs.step_timeout_s` instead of holding the
 * job slot until `jobs.timeout_s`, and fails with E_PROCESSING_TIMEOUT saying which step.
 */
import { AppError } from '../errors.js';

export async function withStepTimeout<T>(jobSignal: AbortSignal, seconds: number, step: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const timeout = AbortSignal.timeout(Math.max(1, Math.round(seconds * 1000)));
  try {
    return await work(AbortSignal.any([jobSignal, timeout]));
  } catch (err) {
    // The job's own abort (timeout, shutdown, delete) is the runner's to report.
    if (timeout.aborted && !jobSignal.aborted) {
      throw new AppError('E_PROCESSING_TIMEOUT', `${step} did not finish within ${seconds} s (jobs.step_timeout_s)`, { cause: err });
    }
    throw err;
  }
}
