/**
 * Where a SQL replica keeps its state (replicate/state.ts decides what it holds): one row per
 * object in `_klv_state`, times as ISO 8601 text so that a cursor comes back exactly as the
 * engine stored it. The table is created on first use.
 */
import type { Database } from '../../db/database.js';
import { keyTextType, placeholder, shortTextType } from '../../db/dialect.js';
import { createTableSql, upsertSql } from '../../db/statements.js';
import type { ReplicationState } from '../destination.js';

export const STATE_TABLE = '_klv_state';

const COLUMNS = ['object', 'cursor', 'last_complete_run_at', 'last_sweep_at'] as const;

export class ReplicaState {
  private ready?: Promise<void>;

  /** `table`: the state table's SQL name (the replica's table prefix applied). */
  constructor(
    private readonly db: Database,
    private readonly table: string,
  ) {}

  private get ref(): string {
    return this.db.table(this.table);
  }

  private get columns(): string {
    return COLUMNS.map((c) => this.db.quote(c)).join(', ');
  }

  private ensure(): Promise<void> {
    this.ready ??= this.db
      .run(
        createTableSql(this.db.kind, this.ref, [
          `${this.db.quote('object')} ${keyTextType(this.db.kind)} NOT NULL PRIMARY KEY`,
          ...COLUMNS.slice(1).map((c) => `${this.db.quote(c)} ${shortTextType(this.db.kind)}`),
        ]),
      )
      .then(() => undefined)
      .catch((err: unknown) => {
        this.ready = undefined;
        throw err;
      });
    return this.ready;
  }

  private fromRow(r: Record<string, unknown>): ReplicationState {
    const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
    return { object: String(r.object), cursor: s(r.cursor), lastCompleteRunAt: s(r.last_complete_run_at), lastSweepAt: s(r.last_sweep_at) };
  }

  async get(object: string): Promise<ReplicationState | null> {
    await this.ensure();
    const [row] = await this.db.query(`SELECT ${this.columns} FROM ${this.ref} WHERE ${this.db.quote('object')} = ${placeholder(this.db.kind, 1)}`, [object]);
    return row ? this.fromRow(row) : null;
  }

  async set(state: ReplicationState): Promise<void> {
    await this.ensure();
    const quoted = COLUMNS.map((c) => this.db.quote(c));
    await this.db.run(upsertSql(this.db.kind, this.ref, quoted, [quoted[0]!]), [state.object, state.cursor, state.lastCompleteRunAt, state.lastSweepAt]);
  }

  async list(): Promise<ReplicationState[]> {
    await this.ensure();
    const rows = await this.db.query(`SELECT ${this.columns} FROM ${this.ref} ORDER BY ${this.db.quote('object')}`);
    return rows.map((r) => this.fromRow(r));
  }

  async delete(object: string): Promise<void> {
    await this.ensure();
    await this.db.run(`DELETE FROM ${this.ref} WHERE ${this.db.quote('object')} = ${placeholder(this.db.kind, 1)}`, [object]);
  }
}
