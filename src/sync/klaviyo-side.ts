/**
 * The Klaviyo side of `klv sync`: every record of the object, read through the catalog's own
 * plan (Klaviyo cannot report deletions, and these objects are small), and writes sent one row at
 * a time through the object's import handlers, so Klaviyo's rules hold as they do for
 * `klv import` (a drag-and-drop template's Html, a sent campaign).
 */
import type { Clock } from '../core/clock.js';
import type { KlaviyoClient } from '../klaviyo/client.js';
import type { ImportRow, OperationHandler, RowOutcome, WriteContext } from '../objects/write/types.js';
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
   * One row through the object's handler (validateRow first, as klv import does). `beforeSend`
   * runs once the row is known to be sent (a create's write-ahead intent).
   */
  async send(handler: OperationHandler, values: Record<string, unknown>, beforeSend?: () => Promise<void>): Promise<RowOutcome> {
    const row: ImportRow = { rowNumber: ++this.rowNumber, values };
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
