/**
 * `klv objects`: every object klv can read (and, once import lands, write), with its operations,
 * its incremental column and a one-line note. A table on stdout, or JSON with --json. Reads the
 * catalog only: no profile, no network.
 */
import type { CommandContext } from '../context.js';
import { allObjects } from '../../objects/registry.js';
import type { ObjectDefinition } from '../../objects/types.js';

export interface ObjectSummary {
  name: string;
  aliases: string[];
  description: string;
  key: string[];
  /** `export` plus the import operations the object supports. */
  operations: string[];
  /** The --since column, and whether Klaviyo filters it (serverSide) or klv does. */
  incremental: { column: string; serverSide: boolean } | null;
  constraints: string[];
}

export function summarize(def: ObjectDefinition): ObjectSummary {
  return {
    name: def.name,
    aliases: [...(def.aliases ?? [])],
    description: def.description,
    key: [...def.key],
    operations: ['export', ...def.operations],
    incremental: def.incremental ? { column: def.incremental.column, serverSide: def.incremental.serverSide } : null,
    constraints: [...def.constraints],
  };
}

/** `Updated`, `Updated (local)` when klv filters it itself, or `-`. */
export function incrementalText(def: Pick<ObjectDefinition, 'incremental'>): string {
  if (!def.incremental) return '-';
  return def.incremental.serverSide ? def.incremental.column : `${def.incremental.column} (local)`;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function formatObjects(defs: readonly ObjectDefinition[]): string {
  const rows = defs.map((d) => [d.name, summarize(d).operations.join(', '), incrementalText(d), d.description]);
  return `${formatTable(['Object', 'Operations', 'Incremental', 'Notes'], rows)}\n`;
}

export async function run(ctx: CommandContext): Promise<number> {
  const defs = allObjects();
  if (ctx.io.json) ctx.io.data(JSON.stringify(defs.map(summarize), null, 2));
  else {
    ctx.io.data(formatObjects(defs));
    ctx.io.info(
      ctx.io.style.dim("'klv describe <object>' shows an object's columns and filters. Incremental: the column --since reads; (local) means Klaviyo cannot filter it, so klv reads everything and keeps the newer rows."),
    );
  }
  return 0;
}
