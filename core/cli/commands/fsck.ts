/**
 * `framecast fsck [--fix] [--json] [--grace-s N]`: objects no row owns, rows whose objects
 * are missing, abandoned uploads, with sizes; `--fix` removes the orphans and abandoned
 * uploads (rows are never changed). Safe while nodes run (see core/cli/consistency.ts).
 * Exit 0 when clean (or everything found was removed), 1 when problems remain.
 */
import { parseArgs } from 'node:util';
import { openMetadataDb, openObjectStore } from '../../open-services.js';
import { checkConsistency, fixConsistency, isClean, type ConsistencyReport } from '../consistency.js';
import { UsageError, type CliCommand, type CliOutput } from '../command.js';

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

function printReport(report: ConsistencyReport, out: CliOutput['out']): void {
  out(`checked ${report.objects} objects`);
  for (const o of report.orphans) out(`orphan   ${o.prefix} (${o.reason}): ${o.keys.length} objects, ${mib(o.bytes)}`);
  for (const m of report.missing) out(`missing  ${m.table} ${m.row}: ${m.missing.join(', ')}`);
  for (const u of report.abandonedUploads) out(`upload   ${u.key} (${u.reason}): incomplete multipart upload, ${mib(u.bytes)}`);
  for (const key of report.unknown) out(`unknown  ${key} (not a Framecast key; left alone)`);
  const orphanBytes = report.orphans.reduce((sum, o) => sum + o.bytes, 0) + report.abandonedUploads.reduce((sum, u) => sum + u.bytes, 0);
  if (isClean(report)) out('clean');
  else out(`${report.orphans.length} orphaned, ${report.missing.length} missing, ${report.abandonedUploads.length} abandoned uploads (${mib(orphanBytes)} reclaimable)`);
  if (report.fixed) out(`removed ${report.fixed.objects} objects and ${report.fixed.uploads} uploads (${mib(report.fixed.bytes)})`);
}

const fsck: CliCommand = {
  summary: 'check storage against the database; --fix removes orphans',
  usage: '[--fix] [--json] [--grace-s SECONDS]',
  async run(args, ctx) {
    let values;
    try {
      ({ values } = parseArgs({
        args: [...args],
        options: { fix: { type: 'boolean' }, json: { type: 'boolean' }, 'grace-s': { type: 'string' } },
      }));
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    const graceS = values['grace-s'] === undefined ? undefined : Number(values['grace-s']);
    if (graceS !== undefined && !(graceS >= 0)) throw new UsageError('--grace-s takes a number of seconds >= 0');
    const db = await openMetadataDb(ctx.config);
    try {
      const store = await openObjectStore(ctx.config);
      try {
        let report = await checkConsistency(db, store, graceS === undefined ? {} : { graceMs: graceS * 1000 });
        if (values.fix) report = await fixConsistency(store, report);
        if (values.json) ctx.out(JSON.stringify(report));
        else printReport(report, ctx.out);
        // Rows with missing objects are not fixed by --fix: they stay a problem.
        return isClean(report) || (report.fixed && report.missing.length === 0) ? 0 : 1;
      } finally {
        await store.close?.();
      }
    } finally {
      await db.close();
    }
  },
};

export default fsck;
