/**
 * The deletion sweep of a SQL replica (Destination.reconcileDeletions): every live key is staged
 * in a temporary table on one session, so memory stays flat whatever the table's size; only once
 * the keys have ended are the guard's numbers read and the absent rows marked (or removed), with
 * their cascades, in one transaction.
 */
import { randomBytes } from 'node:crypto';
import type { Database } from '../../db/database.js';
import { placeholder, sqlIdentifier, sqlType } from '../../db/dialect.js';
import { createTableSql, dropTemporaryTableSql, insertIgnoreSql } from '../../db/statements.js';
import { toSqlValue } from '../../db/values.js';
import type { Row } from '../../objects/types.js';
import type { SweepCheck, SweepOptions, SweepOutcome, TableColumn } from '../destination.js';

export interface SweptTable {
  /** The table's SQL name. */
  table: string;
  keyColumns: TableColumn[];
  /** The column marking a row deleted. */
  deletedAt: string;
  /** A cascade's child table's SQL name (the replica's prefix applied). */
  childTable(name: string): string;
  /** Keys staged per statement (memory holds one batch). */
  stagingBatch: number;
}

export async function sweepDeletions(db: Database, swept: SweptTable, liveKeys: AsyncIterable<Row>, at: Date, options: SweepOptions): Promise<SweepOutcome> {
  const { keyColumns } = swept;
  const cascades = options.cascades ?? [];
  const stage = db.temporaryTable(`_klv_live_${randomBytes(6).toString('hex')}`);
  const keyNames = keyColumns.map((c) => db.column(c.name));
  const create = createTableSql(
    db.kind,
    stage,
    [...keyColumns.map((c) => `${db.column(c.name)} ${sqlType(db.kind, c.type, true)} NOT NULL`), `PRIMARY KEY (${keyNames.join(', ')})`],
    { temporary: true, ifNotExists: false },
  );
  const target = db.table(swept.table);
  const deletedAt = db.column(swept.deletedAt);
  const absentFrom = (ref: string) => `NOT EXISTS (SELECT 1 FROM ${stage} l WHERE ${keyNames.map((k) => `l.${k} = ${ref}.${k}`).join(' AND ')})`;
  const markedAt = toSqlValue(db.kind, 'datetime', at, swept.deletedAt);

  // One connection throughout: the staging table exists only on it.
  return db.session(async (conn) => {
    await conn.run(create);
    try {
      let batch: unknown[][] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        await conn.run(insertIgnoreSql(db.kind, stage, keyNames, batch.length), batch.flat());
        batch = [];
      };
      // Every key first, with nothing written to the table yet: when the keys throw (a read that
      // failed, or left a part out), the table is exactly as it was.
      for await (const row of liveKeys) {
        const values = keyColumns.map((c) => toSqlValue(db.kind, c.type, row[c.name], c.name));
        if (values.some((v) => v === null)) continue;
        batch.push(values);
        if (batch.length >= swept.stagingBatch) await flush();
      }
      await flush();

      // The guard's numbers, the marking and the cascades in one transaction: what was judged is
      // what is marked, and a kill leaves all of it or none.
      return await conn.atomically(async (tx) => {
        const [seen] = await tx.query(`SELECT COUNT(*) AS n FROM ${stage}`);
        const [counts] = await tx.query(
          `SELECT COUNT(*) AS live, COALESCE(SUM(CASE WHEN ${absentFrom('p')} THEN 1 ELSE 0 END), 0) AS absent FROM ${target} p WHERE p.${deletedAt} IS NULL`,
        );
        const check: SweepCheck = { liveRows: Number(counts?.live ?? 0), liveKeys: Number(seen?.n ?? 0), absent: Number(counts?.absent ?? 0) };
        if (options.refuse?.(check)) return { deleted: 0, check, refused: true, cascaded: [] };

        // Children first: which parents go is read from the parent table before it changes.
        const cascaded: SweepOutcome['cascaded'] = [];
        const parentKey = keyNames[0] ?? '';
        for (const cascade of cascades) {
          const childName = swept.childTable(cascade.table);
          const has = db.columnSet((await db.columnsOf(childName, tx)) ?? []);
          if (!has.has(sqlIdentifier(cascade.column)) || !has.has(swept.deletedAt)) continue; // not replicated here
          const child = db.table(childName);
          const column = db.column(cascade.column);
          let n: number;
          if (options.hard) {
            // Hard: every parent row this sweep removes (soft-marked ones included) takes its children.
            n = await tx.run(`DELETE FROM ${child} WHERE ${column} IN (SELECT p.${parentKey} FROM ${target} p WHERE ${absentFrom('p')})`);
          } else {
            n = await tx.run(
              `UPDATE ${child} SET ${deletedAt} = ${placeholder(db.kind, 1)} WHERE ${deletedAt} IS NULL AND ${column} IN (SELECT p.${parentKey} FROM ${target} p WHERE p.${deletedAt} IS NULL AND ${absentFrom('p')})`,
              [markedAt],
            );
          }
          cascaded.push({ table: childName, deleted: n });
        }

        let deleted: number;
        if (options.hard) deleted = await tx.run(`DELETE FROM ${target} WHERE ${absentFrom(target)}`);
        // Rows already marked keep the time they were first found missing.
        else deleted = await tx.run(`UPDATE ${target} SET ${deletedAt} = ${placeholder(db.kind, 1)} WHERE ${deletedAt} IS NULL AND ${absentFrom(target)}`, [markedAt]);
        return { deleted, check, refused: false, cascaded };
      });
    } finally {
      await conn.run(dropTemporaryTableSql(db.kind, stage)).catch(() => undefined);
    }
  });
}
