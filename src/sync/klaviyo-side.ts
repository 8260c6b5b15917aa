/**
 * The Klaviyo side of `klv sync`: every record of the object, read through the catalog's own
 * plan (Klaviyo cannot report deletions, and these objects are small), and writes sent one row at
 * a time through the object's import handlers, each value coerced as `klv import` coerces a cell
 * (pipeline/import/coerce.ts), so Klaviyo's rules and import's spellings hold for both (a
 * drag-and-drop template's Html, a sent campaign, `Double Opt-In` sent as double_opt_in).
 */
import type { Clock } from '../core/clock.js';
import type { KlaviyoClient } from '../klaviyo/client.js';
import type { ObjectDefinition } from '../objects/types.js';
import type { ImportRow, OperationHandler, RowFailure, RowOutcome, WriteContext } from '../objects/write/types.js';
import { coerceCell } from '../pipeline/import/coerce.js';
import { normalizeRow, type SyncSpec, type Values } from './spec.js';
import { tableColumns } from './store.js';

/** A Klaviyo record, normalized. */
export interface KlaviyoRecord {
  id: string;
  values: Values;
  /** Klaviyo-only columns (insertOnly + info). */
  extra: Values;
  updated: string | null;
  created: string | null;
}

export interface KlaviyoSideOptions {
  spec: SyncSpec;
  client: KlaviyoClient;
  signal: AbortSignal;
  clock: Clock;
  debug(line: string): void;
}

/**
 * A row's values as `klv import` would hand them to the handler had they been cells of a CSV:
 * each through coerceCell (null stays null: it clears the field, as import's null token does; a
 * blank value is not given). A value import refuses makes the row fail as import's would.
 */
export function importValues(def: ObjectDefinition, rowNumber: number, values: Record<string, unknown>): ImportRow | RowFailure {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    const column = def.columns.find((c) => c.name === name);
    if (!column || value === null || value === undefined) {
      out[name] = value ?? null;
      continue;
    }
    const cell = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
    const r = coerceCell(cell, column);
    if (!r.ok) return { ok: false, rowNumber, code: 'invalid_value', message: `${column.name}: ${r.reason}` };
    if (r.value !== undefined) out[name] = r.value;
  }
  return { rowNumber, values: out };
}

export class KlaviyoSide {
  private rowNumber = 0;

  constructor(private readonly options: KlaviyoSideOptions) {}

  /** Every record of the object, archived ones included, by Id. */
  async readRecords(): Promise<Map<string, KlaviyoRecord>> {
    const { spec, client, signal } = this.options;
    const created = spec.def.columns.find((c) => c.name === spec.created)!;
    const columns = [spec.def.columns.find((c) => c.name === 'Id')!, ...tableColumns(spec), created];
    const plan = spec.def.plan({ columns, where: [], options: { includeArchived: true } });
    const out = new Map<string, KlaviyoRecord>();
    for await (const row of plan.execute(client, signal)) {
      const id = String(row.Id);
      out.set(id, {
        id,
        values: normalizeRow(spec.sync, row),
        extra: normalizeRow([...spec.insertOnly, ...spec.info], row),
        updated: (row[spec.updated] as string | null) ?? null,
        created: (normalizeRow([created], row)[created.name] as string | null) ?? null,
      });
    }
    return out;
  }

  private writeContext(): WriteContext {
    const { client, signal, clock, debug } = this.options;
    return { client, signal, options: {}, clock, debug: (l) => debug(l) };
  }

  /**
   * One row through the object's handler, as klv import sends it (its values coerced, then
   * validateRow). `beforeSend` runs once the row is known to be sent (a create's write-ahead intent).
   */
  async send(handler: OperationHandler, values: Record<string, unknown>, beforeSend?: () => Promise<void>): Promise<RowOutcome> {
    const row = importValues(this.options.spec.def, ++this.rowNumber, values);
    if ('ok' in row) return row;
    const invalid = handler.validateRow?.(row, {});
    if (invalid) return invalid;
    await beforeSend?.();
    const [outcome] = await handler.processBatch([row], this.writeContext());
    return outcome ?? { ok: false, rowNumber: row.rowNumber, code: 'unknown_outcome', message: 'The handler gave no outcome for the row.' };
  }

  /** Normalized values as the import handlers take them (JSON columns parsed). */
  payload(values: Values, columns: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const n of columns) {
      const c = tableColumns(this.options.spec).find((col) => col.name === n)!;
      const v = values[n] ?? null;
      out[n] = c.type === 'json' && typeof v === 'string' ? JSON.parse(v) : v;
    }
    return out;
  }
}
