/**
 * `klv replicate [objects...]`: Klaviyo objects into database tables, incrementally (see
 * src/replicate/engine.ts). `klv replicate state`, `state rewind <object> <time>` and
 * `state reset <object>` show and move the per-object state kept in the destination.
 *
 * People on stderr (progress on a terminal, one summary line per object), data on stdout: the
 * `--json` summary, and the state table.
 */
import type { CommandContext } from '../context.js';
import type { ReplicateFlags } from '../flags.js';
import { KlvError, UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-code.js';
import type { ObjectDefinition } from '../../objects/types.js';
import type { Destination, ReplicationState } from '../../replicate/destination.js';
import type { ObjectResult } from '../../replicate/engine.js';

async function openDest(ctx: CommandContext, flags: ReplicateFlags): Promise<Destination> {
  const { openDestination, DEFAULT_DESTINATION } = await import('../../replicate/destinations/index.js');
  const url = flags.to ?? DEFAULT_DESTINATION;
  const dest = await openDestination(url, { schema: flags.schema, tablePrefix: flags.tablePrefix });
  ctx.onCleanup(() => dest.close());
  return dest;
}

export async function run(ctx: CommandContext, args: string[], flags: ReplicateFlags): Promise<number> {
  if (args[0]?.toLowerCase() === 'state') return stateCommand(ctx, args.slice(1), flags);
  return replicateCommand(ctx, args, flags);
}

async function resolveObjects(names: string[]): Promise<ObjectDefinition[]> {
  const { allObjects, findObject } = await import('../../objects/registry.js');
  const { defaultObjects } = await import('../../replicate/engine.js');
  if (names.length === 0) return defaultObjects(allObjects());
  const readable = new Set(defaultObjects(allObjects()).map((d) => d.name));
  const chosen: ObjectDefinition[] = [];
  for (const n of names) {
    const def = findObject(n);
    if (!readable.has(def.name)) {
      throw new UsageError(
        `${def.name} cannot be replicated: Klaviyo reads it only for given people (a required filter).`,
        `Replicate ListMembers for list memberships; 'klv objects' lists the objects.`,
      );
    }
    if (!chosen.includes(def)) chosen.push(def);
  }
  return chosen;
}

async function replicateCommand(ctx: CommandContext, names: string[], flags: ReplicateFlags): Promise<number> {
  const io = ctx.io;
  const { parseSpan } = await import('../../replicate/state.js');
  const { parseSweepSetting } = await import('../../replicate/sweep.js');
  // Every usage error before anything is opened or sent.
  const objects = await resolveObjects(names);
  const sweepDeletes = parseSweepSetting(flags.sweepDeletes);
  const lookbackMs = flags.lookback !== undefined ? parseSpan(flags.lookback) : undefined;
  let batchSize: number | undefined;
  if (flags.batchSize !== undefined) {
    batchSize = Number(flags.batchSize);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`--batch-size '${flags.batchSize}' is not a whole number above zero.`);
  }
  const { exportNow } = await import('../../pipeline/export/since.js');
  exportNow(io.env); // a bad KLV_NOW is a usage error now, not mid-run

  const { PARTITIONED_READ_CONCURRENCY } = await import('../../objects/read/partitioned.js');
  const client = await ctx.client({ concurrency: PARTITIONED_READ_CONCURRENCY });
  const dest = await openDest(ctx, flags);
  const { replicate } = await import('../../replicate/engine.js');

  io.info(io.style.dim(`Replicating ${objects.length === 1 ? objects[0]!.name : `${objects.length} objects`} into ${dest.description}.`));
  const progress = io.progressEnabled ? new ProgressLine(io.stderr) : undefined;
  if (progress) ctx.onCleanup(() => progress.clear());
  const started = performance.now();
  const { results, failed, refused, incomplete } = await replicate({
    objects,
    destination: dest,
    client,
    tablePrefix: flags.tablePrefix,
    sweepDeletes,
    hardDeletes: Boolean(flags.hardDeletes),
    allowMassDeletes: Boolean(flags.allowMassDeletes),
    lookbackMs,
    batchSize,
    now: () => exportNow(io.env),
    signal: ctx.signal,
    onProgress: (object, rows) => progress?.show(`${object}: ${rows.toLocaleString('en-US')} rows`),
    onObject: (r) => {
      progress?.clear();
      if (r.error) io.error(`${r.object}: ${r.error.message}`, r.error.hint);
      else io.info(formatObjectLine(r));
      if (r.sweepRefused) io.warn(formatRefusal(r, Boolean(flags.hardDeletes)));
      if (r.sweepIncomplete) io.warn(formatIncomplete(r));
    },
  }).finally(() => progress?.clear());

  const seconds = (performance.now() - started) / 1000;
  // `deleted` counts every row marked or removed by this run, a deleted list's members included.
  const totals = results.reduce(
    (t, r) => ({
      inserted: t.inserted + r.inserted,
      updated: t.updated + r.updated,
      unchanged: t.unchanged + r.unchanged,
      deleted: t.deleted + r.deleted + r.cascaded.reduce((n, c) => n + c.deleted, 0),
      requests: t.requests + r.requests,
    }),
    { inserted: 0, updated: 0, unchanged: 0, deleted: 0, requests: 0 },
  );
  if (io.json) {
    io.data(
      JSON.stringify({
        destination: dest.description,
        ok: failed.length === 0,
        seconds: round(seconds),
        ...totals,
        sweepsRefused: refused.map((r) => r.object),
        sweepsIncomplete: incomplete.map((r) => r.object),
        objects: results.map((r) => ({
          object: r.object,
          table: r.table,
          full: r.full,
          since: r.since,
          rowsRead: r.rowsRead,
          inserted: r.inserted,
          updated: r.updated,
          unchanged: r.unchanged,
          deleted: r.deleted,
          swept: r.swept,
          cascaded: r.cascaded,
          sweepRefused: r.sweepRefused,
          sweepIncomplete: r.sweepIncomplete,
          addedColumns: r.addedColumns,
          requests: r.requests,
          seconds: round(r.seconds),
          cursor: r.cursor,
          ...(r.error ? { error: r.error.message } : {}),
        })),
      }),
    );
  }
  io.info(
    `Replicated ${results.length - failed.length} of ${results.length} objects into ${dest.description} in ${seconds.toFixed(1)} s: ` +
      `${totals.inserted.toLocaleString('en-US')} inserted, ${totals.updated.toLocaleString('en-US')} updated, ${totals.unchanged.toLocaleString('en-US')} unchanged, ` +
      `${totals.deleted.toLocaleString('en-US')} deleted, ${totals.requests.toLocaleString('en-US')} requests.`,
  );
  if (failed.length > 0) {
    const first = failed[0]!.error!;
    throw new KlvError(`Replication failed for ${failed.map((r) => r.object).join(', ')}: ${first.message}`, {
      hint: `${failed.length < results.length ? 'The other objects are up to date. ' : ''}The failed ${failed.length === 1 ? 'object keeps its' : 'ones keep their'} previous state, so the next run reads ${failed.length === 1 ? 'it' : 'them'} again from there.${first.hint ? ` ${first.hint}` : ''}`,
      cause: first.error,
    });
  }
  if (refused.length > 0) {
    // Exit 3, not 0: everything else is replicated, but deletions of these objects wait for a
    // person to decide, and a scheduled job must not look healthy while they pile up.
    io.warn(
      `Deletions not applied for ${refused.map((r) => r.object).join(', ')} (see above): their rows stay as they were. ` +
        `Once the deletions are known to be real, run again with --allow-mass-deletes.`,
    );
    return ExitCode.RowsRejected;
  }
  // An incomplete sweep exits 0 (its warning printed above): every row written is right, and no
  // one has anything to decide: the next run looks for the deletions again by itself.
  return ExitCode.Ok;
}

/** The warning for a sweep whose id-only read left a part out: nothing marked, and why. */
export function formatIncomplete(r: ObjectResult): string {
  return (
    `${r.object}: deletions not checked this run, nothing marked deleted in ${r.table}: the id-only read of ${r.object} was incomplete ` +
    `(${r.sweepIncomplete}). A record missing from an incomplete read may still exist. The rows read were written; the next run checks deletions again.`
  );
}

/** The warning for a sweep the mass-deletion guard refused: the numbers, why, and what to do. */
export function formatRefusal(r: ObjectResult, hard: boolean): string {
  const c = r.sweepRefused!;
  const n = (x: number) => x.toLocaleString('en-US');
  return (
    `${r.object}: deletion check refused, nothing ${hard ? 'removed' : 'marked deleted'} in ${r.table}: ${c.reason}. ` +
    `It would have ${hard ? 'removed' : 'marked'} ${n(c.absent)} of ${n(c.liveRows)} live rows (Klaviyo listed ${n(c.liveKeys)} records). ` +
    `That is more often a bad answer than real deletions: a key without the read scope for ${r.object}, a Klaviyo incident, a filter bug. ` +
    `Check the records in Klaviyo; if they were really deleted, run again with --allow-mass-deletes.`
  );
}

const round = (n: number) => Math.round(n * 1000) / 1000;

export function formatObjectLine(r: ObjectResult): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const how = r.full ? 'full read' : `since ${r.since}`;
  return (
    `${r.object} -> ${r.table}: ${n(r.inserted)} inserted, ${n(r.updated)} updated, ${n(r.unchanged)} unchanged, ${n(r.deleted)} deleted` +
    ` (${how}${r.swept ? ', deletions checked' : ''}${r.sweepRefused ? ', deletions refused' : ''}${r.sweepIncomplete ? ', deletions not checked' : ''}` +
    `${r.cascaded.filter((c) => c.deleted > 0).map((c) => `, ${n(c.deleted)} ${c.table} rows deleted with them`).join('')}` +
    `${r.addedColumns.length ? `, added columns ${r.addedColumns.join(', ')}` : ''}; ` +
    `${n(r.requests)} ${r.requests === 1 ? 'request' : 'requests'}, ${r.seconds.toFixed(1)} s)`
  );
}

class ProgressLine {
  #shown = false;
  constructor(private readonly stream: NodeJS.WritableStream) {}
  show(text: string): void {
    this.stream.write(`\r\x1b[2K${text}`);
    this.#shown = true;
  }
  clear(): void {
    if (this.#shown) this.stream.write('\r\x1b[2K');
    this.#shown = false;
  }
}

async function stateCommand(ctx: CommandContext, args: string[], flags: ReplicateFlags): Promise<number> {
  const io = ctx.io;
  const [action, objectName, time, ...rest] = args;
  const usage = `klv replicate state [--to URL], klv replicate state rewind <object> <ISO time>, klv replicate state reset <object>`;
  if (rest.length > 0) throw new UsageError(`Too many arguments to klv replicate state.`, usage);
  let def: ObjectDefinition | undefined;
  let cursor: string | undefined;
  if (action !== undefined) {
    if (action !== 'rewind' && action !== 'reset') throw new UsageError(`Unknown action '${action}' for klv replicate state.`, usage);
    if (!objectName) throw new UsageError(`Which object? klv replicate state ${action} <object>.`, usage);
    const { findObject } = await import('../../objects/registry.js');
    def = findObject(objectName);
    if (action === 'rewind') {
      if (!time) throw new UsageError(`To when? klv replicate state rewind ${def.name} <ISO time>.`, usage);
      const { exportNow, parseSince } = await import('../../pipeline/export/since.js');
      cursor = parseSince(time, exportNow(io.env)).toISOString();
      if (!def.incremental) throw new UsageError(`${def.name} has no cursor: it is read in full on every run.`, `Use klv replicate state reset ${def.name} to forget its state.`);
    } else if (time !== undefined) {
      throw new UsageError(`reset takes no time.`, usage);
    }
  }
  const dest = await openDest(ctx, flags);
  if (action === 'rewind') {
    const prev = await dest.getState(def!.name);
    await dest.setState({ object: def!.name, cursor: cursor!, lastCompleteRunAt: prev?.lastCompleteRunAt ?? null, lastSweepAt: prev?.lastSweepAt ?? null });
    io.info(`${def!.name}: the next run reads from ${cursor} (minus the lookback window); it was ${prev?.cursor ?? 'unset'}.`);
    return ExitCode.Ok;
  }
  if (action === 'reset') {
    await dest.deleteState(def!.name);
    io.info(`${def!.name}: state removed; the next run reads it in full.`);
    return ExitCode.Ok;
  }
  const states = await dest.listStates();
  if (io.json) {
    io.data(JSON.stringify(states));
    return ExitCode.Ok;
  }
  io.data(formatStates(states));
  return ExitCode.Ok;
}

export function formatStates(states: ReplicationState[]): string {
  const header = ['object', 'cursor', 'last complete run', 'last deletion check'];
  const rows = states.map((s) => [s.object, s.cursor ?? '-', s.lastCompleteRunAt ?? '-', s.lastSweepAt ?? '-']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
