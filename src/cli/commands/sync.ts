/**
 * `klv sync <object> --with <db url>`: two-way synchronization of Campaigns, EmailTemplates or
 * Lists with a database table (src/sync/engine.ts). People on stderr (summary), data on stdout
 * (--dry-run's plan, the --json summary). Per-row logs beside the other logs: ./sync-<table>-<UTC
 * time>.success.csv, .errors.csv and .conflicts.csv (--log-dir to put them elsewhere).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandContext } from '../context.js';
import { UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-code.js';
import { systemClock } from '../../core/clock.js';
import { csvLine } from '../../pipeline/import/logs.js';
import type { SyncResult } from '../../sync/outcome.js';

interface SyncFlags {
  with?: string;
  table?: string;
  schema?: string;
  conflict?: string;
  dryRun?: boolean;
  logDir?: string;
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('.', '');
}

function cell(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

const EVENT_HEADER = ['Side', 'Action', 'RowKey', 'Id', 'Columns'];

export async function run(ctx: CommandContext, args: string[], options: Record<string, unknown>): Promise<number> {
  const io = ctx.io;
  const flags = options as SyncFlags;
  const { findObject } = await import('../../objects/registry.js');
  const { syncSpec, CONFLICT_POLICIES } = await import('../../sync/spec.js');
  const def = findObject(args[0] ?? '');
  const spec = syncSpec(def);
  if (!flags.with) throw new UsageError('klv sync needs --with <database url>.', 'e.g. --with sqlite:./klaviyo.db or --with postgres://user@host/db');
  const policy = (flags.conflict ?? 'klaviyo-wins') as (typeof CONFLICT_POLICIES)[number];
  if (!CONFLICT_POLICIES.includes(policy)) throw new UsageError(`--conflict '${flags.conflict}' is not one of ${CONFLICT_POLICIES.join(', ')}.`);
  const { openDatabase } = await import('../../db/open.js');
  const { snakeCase } = await import('../../replicate/table-spec.js');
  const client = await ctx.client({ concurrency: 4 });
  const db = await openDatabase(flags.with, { schema: flags.schema });
  ctx.onCleanup(() => db.close());
  const table = flags.table ?? snakeCase(def.name);
  const { SyncEngine } = await import('../../sync/engine.js');
  io.info(io.style.dim(`${flags.dryRun ? 'Dry run: ' : ''}Synchronizing ${def.name} with ${db.description}, table ${table} (conflicts: ${policy}).`));
  const started = new Date(systemClock.now());
  const result = await new SyncEngine({ spec, db, client, table, policy, dryRun: Boolean(flags.dryRun), signal: ctx.signal, clock: systemClock, debug: (l) => io.debug(l) }).run();

  if (flags.dryRun) {
    io.data(csvLine(EVENT_HEADER, ','));
    for (const e of result.applied) io.data(csvLine([e.side, e.action, cell(e.rowKey), cell(e.id), e.columns.join(';')], ','));
  } else {
    writeLogs(flags.logDir ?? '.', `sync-${table}-${stamp(started)}`, result, (p) => io.info(io.style.dim(`  ${p}`)));
  }
  const count = (side: string, action: string) => result.applied.filter((e) => e.side === side && e.action === action).length;
  const summary = {
    object: def.name,
    table,
    dryRun: Boolean(flags.dryRun),
    klaviyo: { inserted: count('klaviyo', 'insert'), updated: count('klaviyo', 'update'), deleted: count('klaviyo', 'delete') },
    database: { inserted: count('db', 'insert'), updated: count('db', 'update'), deleted: count('db', 'delete') },
    conflicts: result.conflicts.length,
    errors: result.errors.length,
    skipped: result.skipped,
  };
  const verb = flags.dryRun ? 'would receive' : 'received';
  io.info(
    `Klaviyo ${verb} ${summary.klaviyo.inserted} inserts, ${summary.klaviyo.updated} updates, ${summary.klaviyo.deleted} deletes; ` +
      `${table} ${verb} ${summary.database.inserted} inserts, ${summary.database.updated} updates, ${summary.database.deleted} deletes; ` +
      `${summary.conflicts} conflicts, ${summary.errors} errors${summary.skipped ? `, ${summary.skipped} refused changes not sent again` : ''}.`,
  );
  for (const e of result.errors) io.error(`${e.side === 'klaviyo' ? 'Klaviyo' : table} ${e.action} of row ${cell(e.rowKey)}${e.id ? ` (${e.id})` : ''}: ${e.code}: ${e.message}`);
  if (io.json) io.data(JSON.stringify(summary));
  return result.errors.length > 0 ? ExitCode.RowsRejected : ExitCode.Ok;
}

function writeLogs(dir: string, base: string, r: SyncResult, say: (path: string) => void): void {
  mkdirSync(dir, { recursive: true });
  const write = (suffix: string, header: string[], rows: string[][]) => {
    const path = join(dir, `${base}.${suffix}.csv`);
    writeFileSync(path, [header, ...rows].map((cells) => csvLine(cells, ',')).join(''));
    say(path);
  };
  write('success', EVENT_HEADER, r.applied.map((e) => [e.side, e.action, cell(e.rowKey), cell(e.id), e.columns.join(';')]));
  write('errors', [...EVENT_HEADER, 'ErrorCode', 'ErrorMessage'], r.errors.map((e) => [e.side, e.action, cell(e.rowKey), cell(e.id), e.columns.join(';'), e.code, e.message]));
  if (r.conflicts.length > 0) {
    write(
      'conflicts',
      ['RowKey', 'Id', 'Column', 'KlaviyoValue', 'DbValue', 'BaseValue', 'Policy', 'Winner'],
      r.conflicts.map((c) => [cell(c.rowKey), cell(c.id), c.conflict.column, cell(c.conflict.klaviyo), cell(c.conflict.db), cell(c.conflict.base), c.policy, c.conflict.winner]),
    );
  }
}
