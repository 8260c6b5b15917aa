/**
 * What a `klv sync` run did, row by row: changes applied to either side, refusals, conflicts and
 * the writes held back. The command writes its logs and summary from this (cli/commands/sync.ts).
 */
import type { ConflictPolicy, ConflictRecord } from './spec.js';

export type Side = 'klaviyo' | 'db';
export type Action = 'insert' | 'update' | 'delete';

export interface SyncEvent {
  side: Side;
  action: Action;
  rowKey: number | null;
  id: string | null;
  columns: string[];
}

export interface SyncError extends SyncEvent {
  code: string;
  message: string;
}

export interface SyncConflict {
  rowKey: number | null;
  id: string | null;
  conflict: ConflictRecord;
  policy: ConflictPolicy;
}

export interface SyncResult {
  table: string;
  applied: SyncEvent[];
  errors: SyncError[];
  /** Refused writes not sent again because nothing changed since (last_error_hash). */
  skipped: number;
  conflicts: SyncConflict[];
  firstRun: boolean;
  /** Stopped by Ctrl-C: what is here was done, the rest was not started. */
  interrupted: boolean;
}

/** The result of one run, as it is being made. */
export class SyncLog {
  readonly result: SyncResult;

  constructor(table: string) {
    this.result = { table, applied: [], errors: [], skipped: 0, conflicts: [], firstRun: false, interrupted: false };
  }

  applied(e: SyncEvent): void {
    this.result.applied.push(e);
  }

  failed(e: SyncEvent, code: string, message: string): void {
    this.result.errors.push({ ...e, code, message });
  }

  /** A refused write not sent again: nothing changed since Klaviyo refused it. */
  skipped(): void {
    this.result.skipped++;
  }

  conflict(c: SyncConflict): void {
    this.result.conflicts.push(c);
  }

  /** The error this run reported for a create of the row, if any. */
  createError(rowKey: number): SyncError | undefined {
    return this.result.errors.find((e) => e.side === 'klaviyo' && e.action === 'insert' && e.rowKey === rowKey);
  }

  /** Withdraws the error reported for a create of the row (it turned out to have succeeded). */
  dropCreateError(rowKey: number): void {
    const i = this.result.errors.findIndex((e) => e.side === 'klaviyo' && e.action === 'insert' && e.rowKey === rowKey);
    if (i >= 0) this.result.errors.splice(i, 1);
  }
}
