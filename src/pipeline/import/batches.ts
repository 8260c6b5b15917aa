/**
 * Batching for `klv import`: how many rows go to a handler at once, how many batches are in
 * flight, and how a batch's result (outcomes, or an error) becomes exactly one outcome per row.
 *
 * The handler contract (src/objects/write/types.ts) says a handler returns one outcome per row
 * and throws only for failures that are not about rows. This module does not trust it blindly:
 * a missing outcome is a bug in klv, and the row is logged as such rather than silently lost, so
 * that every row read lands in exactly one log whatever a handler does.
 */
import { InterruptedError, KlvError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-code.js';
import type { ImportRow, RowFailure } from '../../objects/write/types.js';

/** Batches in flight at once when the handler does not say (the rate governor paces requests anyway). */
export const DEFAULT_HANDLER_CONCURRENCY = 4;

/** The batch size: the handler's maximum, lowered by --batch-size. */
export function effectiveBatchSize(requested: number | undefined, max: number): number {
  const cap = Math.max(1, Math.floor(max));
  if (requested === undefined) return cap;
  return Math.max(1, Math.min(cap, Math.floor(requested)));
}

/** What klv writes in a success log's Status column: a handler's RowStatus, or `valid` in a dry run. */
export interface LoggedSuccess {
  ok: true;
  rowNumber: number;
  status: string;
  id?: string;
  extras?: Record<string, string>;
}

export type LoggedOutcome = LoggedSuccess | RowFailure;

const BUG = 'this is a bug in klv: please report it';

function failure(rowNumber: number, code: string, message: string): RowFailure {
  return { ok: false, rowNumber, code, message };
}

function isWellFormed(o: unknown): o is LoggedOutcome {
  if (!o || typeof o !== 'object') return false;
  const x = o as { ok?: unknown; rowNumber?: unknown; status?: unknown; code?: unknown; message?: unknown };
  if (typeof x.rowNumber !== 'number') return false;
  if (x.ok === true) return typeof x.status === 'string' && x.status !== '';
  if (x.ok === false) return typeof x.code === 'string' && typeof x.message === 'string';
  return false;
}

/**
 * One outcome per row, in the rows' order. Outcomes are matched by rowNumber; a row without one
 * (or with a malformed one) fails with `internal_error`, saying it may have been applied, since
 * nothing tells what the handler did with it. Extra outcomes (unknown rows, duplicates) are
 * dropped and reported in `problems` (for --verbose).
 */
export function reconcileOutcomes(rows: readonly ImportRow[], outcomes: unknown, handlerName: string): { outcomes: LoggedOutcome[]; problems: string[] } {
  // The usual case, checked cheaply: one well-formed outcome per row, in the rows' order.
  if (Array.isArray(outcomes) && outcomes.length === rows.length) {
    let aligned = true;
    for (let i = 0; i < rows.length && aligned; i++) aligned = isWellFormed(outcomes[i]) && outcomes[i].rowNumber === rows[i].rowNumber;
    if (aligned) return { outcomes: outcomes as LoggedOutcome[], problems: [] };
  }
  const problems: string[] = [];
  const byRow = new Map<number, LoggedOutcome>();
  if (!Array.isArray(outcomes)) {
    problems.push(`${handlerName} returned ${outcomes === undefined ? 'nothing' : typeof outcomes} instead of a list of outcomes`);
  } else {
    const wanted = new Set(rows.map((r) => r.rowNumber));
    for (const o of outcomes) {
      if (!isWellFormed(o)) {
        problems.push(`${handlerName} returned a malformed outcome: ${safeJson(o)}`);
        continue;
      }
      if (!wanted.has(o.rowNumber)) {
        problems.push(`${handlerName} returned an outcome for row ${o.rowNumber}, which was not in the batch`);
        continue;
      }
      if (byRow.has(o.rowNumber)) {
        problems.push(`${handlerName} returned more than one outcome for row ${o.rowNumber}; the first one was kept`);
        continue;
      }
      byRow.set(o.rowNumber, o);
    }
  }
  const result = rows.map(
    (r) =>
      byRow.get(r.rowNumber) ??
      failure(
        r.rowNumber,
        'internal_error',
        `klv's ${handlerName} handler gave no outcome for this row (${BUG}); it may or may not have been applied: check it in Klaviyo before importing it again`,
      ),
  );
  const missing = rows.length - rows.filter((r) => byRow.has(r.rowNumber)).length;
  if (missing > 0) problems.push(`${handlerName} gave no outcome for ${missing} of ${rows.length} rows`);
  return { outcomes: result, problems };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v)?.slice(0, 200) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * What a handler's exception means for the run and for the rows of its batch:
 * - `interrupted`: Ctrl-C reached the handler (the batch may be half-done);
 * - `fatal`: the run cannot go on (key refused, network gone): the batch's rows fail with the
 *   error, no further batch is started, and the run ends with `exitCode`;
 * - `rows`: the batch failed but the next one may not (a 400 about the payload, a 5xx): its
 *   rows fail with the error and the run goes on.
 */
export interface BatchErrorInfo {
  kind: 'interrupted' | 'fatal' | 'rows';
  /** ErrorCode for the error log: Klaviyo's code when it gave one. */
  code: string;
  /** ErrorMessage: Klaviyo's detail, or klv's words. */
  message: string;
  /** For fatal errors: the exit code of the run. */
  exitCode: number;
}

interface ApiErrorLike {
  name: string;
  status: number;
  code?: string;
  detail?: string;
  title?: string;
  message: string;
  source?: { pointer?: string; parameter?: string };
}

// Duck-typed by name (as cli/error-report.ts does) so that this module needs no HTTP code.
function isApiError(err: unknown): err is ApiErrorLike {
  return err instanceof Error && err.name === 'KlaviyoApiError' && typeof (err as Partial<ApiErrorLike>).status === 'number';
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** The error-log code of each kind of unusable answer (klaviyo/errors.ts UnusableResponseKind). */
const UNUSABLE_ANSWER_CODES: Record<string, string> = {
  /** A 2xx that was not Klaviyo's document: an HTML page, JSON cut short, an empty body. */
  malformed: 'bad_response',
  'too-large': 'response_too_large',
  /** Klaviyo's edge (Cloudflare) challenged the request: it never reached the API. */
  'edge-blocked': 'edge_blocked',
  /** A 429 asking for a longer wait than klv allows (KLV_MAX_RETRY_AFTER). */
  'retry-after-too-long': 'rate_limited',
  'pagination-stuck': 'bad_pagination',
  'cursor-refused': 'bad_pagination',
};

export function describeBatchError(err: unknown): BatchErrorInfo {
  if (err instanceof InterruptedError || (err instanceof Error && err.name === 'AbortError')) {
    return { kind: 'interrupted', code: 'interrupted', message: 'interrupted (Ctrl-C) while this row was being sent', exitCode: ExitCode.Interrupted };
  }
  if (isApiError(err)) {
    const detail = err.detail ?? err.title;
    const message = oneLine(detail ? `${detail}${err.source?.pointer ? ` (${err.source.pointer})` : ''}` : err.message);
    if (err.status === 401 || err.status === 403) {
      return {
        kind: 'fatal',
        code: err.code ?? (err.status === 401 ? 'not_authenticated' : 'permission_denied'),
        message,
        exitCode: ExitCode.Auth,
      };
    }
    return { kind: 'rows', code: err.code ?? `http_${err.status}`, message, exitCode: ExitCode.Failure };
  }
  if (err instanceof Error && err.name === 'UnknownOutcomeError') {
    return {
      kind: 'rows',
      code: 'unknown_outcome',
      message: oneLine(`${err.message}: check in Klaviyo and re-import this row if needed`),
      exitCode: ExitCode.Failure,
    };
  }
  if (err instanceof Error && (err.name === 'KlaviyoNetworkError' || err.name === 'KlaviyoResponseError')) {
    // Klaviyo unreachable, or answering with something that is not Klaviyo's (an HTML page, a
    // challenge, a long hold): every later batch would fail the same way. Stop, and let
    // --resume continue later. The code says which: an HTML page is not a network failure.
    const code = err.name === 'KlaviyoResponseError' ? (UNUSABLE_ANSWER_CODES[(err as { kind?: string }).kind ?? ''] ?? 'bad_response') : 'network_error';
    return { kind: 'fatal', code, message: oneLine(err.message), exitCode: ExitCode.Failure };
  }
  if (err instanceof KlvError) {
    if (err.exitCode === ExitCode.Auth) return { kind: 'fatal', code: 'not_authenticated', message: oneLine(err.message), exitCode: ExitCode.Auth };
    return { kind: 'rows', code: 'error', message: oneLine(err.message), exitCode: err.exitCode };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return { kind: 'rows', code: 'internal_error', message: oneLine(`${e.message} (${BUG})`), exitCode: ExitCode.Failure };
}

/**
 * At most `limit` promises at once. `waitForSlot()` is what keeps the reader from running ahead:
 * the run loop awaits it before starting a batch, so no more than `limit` batches (plus the one
 * being gathered) are ever held in memory.
 */
export class InFlight {
  readonly #limit: number;
  readonly #running = new Set<Promise<void>>();
  #peak = 0;

  constructor(limit: number) {
    this.#limit = Math.max(1, Math.floor(limit));
  }

  get size(): number {
    return this.#running.size;
  }

  /** The most promises that were ever running at once (tests check backpressure with it). */
  get peak(): number {
    return this.#peak;
  }

  async waitForSlot(): Promise<void> {
    while (this.#running.size >= this.#limit) await Promise.race(this.#running);
  }

  /** The task must not reject (batches catch their own errors); a rejection is swallowed here. */
  add(task: Promise<void>): void {
    const p = task.then(
      () => undefined,
      () => undefined,
    );
    const tracked = p.finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
    this.#peak = Math.max(this.#peak, this.#running.size);
  }

  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.race(this.#running);
  }
}
