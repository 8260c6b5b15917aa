/**
 * Sending a bulk request so that one bad row cannot sink the others.
 *
 * When Klaviyo refuses a whole bulk request (400, 413, 422) it usually points at the culprit:
 * `source.pointer` = `/data/attributes/profiles/data/17/attributes/email`. The pointed rows fail
 * with Klaviyo's code and detail and the rest is sent again (each round removes at least one row,
 * so this ends). A refusal that points at no row is bisected: each half is sent on its own, which
 * isolates a single bad row in about 2·log2(n) requests. When both halves are refused again with
 * the same error as their parent, the error is about the request, not a row (an unknown list id,
 * a missing scope): every row of that part fails with it and klv stops splitting, so a request-
 * level error costs three requests, not one per row. A budget bounds the extra requests anyway.
 *
 * A refused request was not applied by Klaviyo, so sending its rows again in a new request is not
 * a duplicate send, whatever the endpoint.
 */
import { KlaviyoApiError, type KlaviyoErrorObject } from '../../klaviyo/errors.js';

/** Statuses by which Klaviyo refuses a request because of what it contains. */
const REFUSAL_STATUSES: ReadonlySet<number> = new Set([400, 413, 422]);

export function isContentRefusal(e: unknown): e is KlaviyoApiError {
  return e instanceof KlaviyoApiError && REFUSAL_STATUSES.has(e.status);
}

export interface Refused<T> {
  item: T;
  code: string;
  message: string;
}

export interface Accepted<T, R> {
  /** The items of one accepted request, in the order they were sent. */
  items: T[];
  result: R;
}

export interface IsolateOptions<T, R> {
  /** Sends one request with these items; resolves when Klaviyo accepted it, throws otherwise. */
  send(items: T[]): Promise<R>;
  /**
   * The positions (into `items`, as sent) an error object points at, or [] when it points at
   * none of them (a pointer to the request as a whole, or no pointer).
   */
  locate(error: KlaviyoErrorObject, items: T[]): number[];
  /** Extra requests allowed beyond the first; default 4·log2(n) + 8. */
  budget?: number;
}

export interface IsolateResult<T, R> {
  accepted: Accepted<T, R>[];
  refused: Refused<T>[];
  /** Requests sent (accepted or not). */
  requests: number;
}

/** Klaviyo's code (or the HTTP status) and detail, as a row failure's code and message. */
export function refusalOf(e: KlaviyoApiError, error?: KlaviyoErrorObject): { code: string; message: string } {
  const obj = error ?? e.errors[0];
  const code = obj?.code ?? e.code ?? `http_${e.status}`;
  const detail = obj?.detail ?? obj?.title ?? e.message;
  const at = obj?.source?.pointer;
  return { code, message: at ? `${detail} (${at})` : detail };
}

function sameError(a: KlaviyoApiError, b: KlaviyoApiError): boolean {
  return a.status === b.status && a.code === b.code && a.detail === b.detail;
}

export async function sendIsolating<T, R>(items: T[], o: IsolateOptions<T, R>): Promise<IsolateResult<T, R>> {
  const accepted: Accepted<T, R>[] = [];
  const refused: Refused<T>[] = [];
  let requests = 0;
  let budget = o.budget ?? 4 * Math.ceil(Math.log2(items.length + 1)) + 8;

  const refuseAll = (part: T[], e: KlaviyoApiError, note = '') => {
    const { code, message } = refusalOf(e);
    for (const item of part) refused.push({ item, code, message: note + message });
  };

  /** One request; on refusal, the pointed rows are set aside and the rest retried. Returns an unlocated refusal. */
  const attempt = async (part: T[]): Promise<KlaviyoApiError | null> => {
    let rest = part;
    for (;;) {
      if (rest.length === 0) return null;
      requests += 1;
      try {
        accepted.push({ items: rest, result: await o.send(rest) });
        return null;
      } catch (e) {
        if (!isContentRefusal(e)) throw e;
        const pointed = new Map<number, KlaviyoErrorObject>();
        for (const obj of e.errors) {
          for (const i of o.locate(obj, rest)) if (i >= 0 && i < rest.length && !pointed.has(i)) pointed.set(i, obj);
        }
        if (pointed.size === 0) return e;
        for (const [i, obj] of pointed) refused.push({ item: rest[i], ...refusalOf(e, obj) });
        rest = rest.filter((_, i) => !pointed.has(i));
        if (budget-- <= 0) {
          refuseAll(rest, e, 'Not sent: Klaviyo kept refusing the request it was in, klv stopped retrying: ');
          return null;
        }
      }
    }
  };

  const isolate = async (part: T[], e: KlaviyoApiError): Promise<void> => {
    if (part.length === 1) {
      refuseAll(part, e);
      return;
    }
    if (budget < 2) {
      refuseAll(part, e, 'Klaviyo refused the request this row was in: ');
      return;
    }
    budget -= 2;
    const mid = Math.ceil(part.length / 2);
    const halves = [part.slice(0, mid), part.slice(mid)];
    const errors = [await attempt(halves[0]), await attempt(halves[1])];
    if (errors[0] && errors[1] && sameError(errors[0], e) && sameError(errors[1], e)) {
      // Both halves refused exactly as the whole was: the request, not a row, is the problem.
      refuseAll([...halves[0], ...halves[1]], e, 'Klaviyo refused every request with this row in it: ');
      return;
    }
    for (let h = 0; h < 2; h++) if (errors[h]) await isolate(halves[h], errors[h]!);
  };

  const first = await attempt(items);
  if (first) await isolate(items, first);
  return { accepted, refused, requests };
}
