/**
 * What can go wrong talking to Klaviyo, as typed errors that say what failed and what to do.
 *
 * - KlaviyoApiError: Klaviyo answered with an error status (after any retries).
 * - KlaviyoNetworkError: no usable answer (connection refused, reset, timeout) after retries.
 * - UnknownOutcomeError: a write that is not safe to repeat failed after it may have been
 *   applied; it was NOT re-sent, so the caller should record the row as uncertain.
 *
 * All text given to these classes must already be scrubbed of the API key (the client does it);
 * causes are kept only as scrubbed copies so that stacks and inspect() output stay clean too.
 * `name` is set explicitly: cli/error-report.ts recognises 'KlaviyoApiError' by duck typing.
 */
import { ExitCode } from '../core/exit-code.js';
import { KlvError } from '../core/errors.js';
import { OPERATIONS, type OperationId } from './generated/api-metadata.js';

/** One entry of Klaviyo's `{"errors":[...]}` body. */
export interface KlaviyoErrorObject {
  id?: string;
  status?: number | string;
  code?: string;
  title?: string;
  detail?: string;
  source?: { pointer?: string; parameter?: string };
  meta?: Record<string, unknown>;
}

export interface RequestDescription {
  operationId: string;
  method: string;
  /** Path without the query string (queries may hold e-mail addresses). */
  path: string;
}

/** Pulls the JSON:API error objects out of a response body; [] when it has none. */
export function errorObjectsOf(body: unknown): KlaviyoErrorObject[] {
  if (!body || typeof body !== 'object') return [];
  const errors = (body as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  return errors.filter((e): e is KlaviyoErrorObject => Boolean(e) && typeof e === 'object');
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  524: 'Timeout',
};

function operationMeta(operationId: string) {
  return (OPERATIONS as Record<string, (typeof OPERATIONS)[OperationId] | undefined>)[operationId];
}

function where(source: KlaviyoErrorObject['source']): string | undefined {
  if (!source) return undefined;
  return source.parameter ?? source.pointer ?? undefined;
}

/** `GET /api/profiles failed: 400 invalid: 'foo' is not a valid field for the resource 'profile' (filter)` */
export function apiErrorMessage(req: RequestDescription, status: number, errors: KlaviyoErrorObject[]): string {
  const head = `${req.method} ${req.path} failed: ${status}`;
  const first = errors[0];
  if (!first) return `${head} ${STATUS_TEXT[status] ?? 'error'}`;
  const code = first.code ? `${first.code}: ` : '';
  const text = first.detail ?? first.title ?? STATUS_TEXT[status] ?? 'error';
  const at = where(first.source);
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
  return `${head} ${code}${text}${at ? ` (${at})` : ''}${more}`;
}

/** What to do next, by status. `attempts` is how many times the request was sent. */
export function apiErrorHint(req: RequestDescription, status: number, errors: KlaviyoErrorObject[], attempts = 1): string {
  const meta = operationMeta(req.operationId);
  const first = errors[0];
  const retried = attempts > 1 ? ` after ${attempts} attempts` : '';
  switch (true) {
    case status === 401:
      return 'Klaviyo did not accept the Private API Key. Check the key: klv config show';
    case status === 403: {
      const scopes = meta?.scopes ?? [];
      if (scopes.length === 0) return 'The API key is not allowed to do this. Check its scopes in Klaviyo (Settings > API keys).';
      // Name the scopes Klaviyo's answer names, when it does; else all the request needs.
      const words = new Set(errors.flatMap((e) => `${e.detail ?? ''} ${e.title ?? ''}`.split(/[^\w:-]+/)));
      const named = scopes.filter((s) => words.has(s));
      const which =
        named.length > 0 || scopes.length === 1 ? `: ${(named.length > 0 ? named : scopes).join(', ')}` : ` (it needs ${scopes.join(' and ')})`;
      return `The API key lacks a scope this request needs${which}. Add it to the key in Klaviyo (Settings > API keys) or use a key that has it.`;
    }
    case status === 400: {
      const at = where(first?.source);
      const param = first?.source?.parameter;
      let hint = at
        ? `Klaviyo refused '${at}'${first?.detail ? `: ${first.detail}` : ''}.`
        : `Klaviyo refused the request${first?.detail ? `: ${first.detail}` : ''}.`;
      if (param === 'filter' && meta && Object.keys(meta.filters).length > 0) {
        const allowed = Object.entries(meta.filters).map(([f, m]) => `${f} (${m.operators.join(', ')})`);
        hint += ` Filters ${req.operationId} allows: ${allowed.join('; ')}.`;
      } else if (param === 'sort' && meta && meta.sort.length > 0) {
        hint += ` Sort fields allowed: ${meta.sort.join(', ')}.`;
      } else if (param?.startsWith('fields[') && meta) {
        const type = param.slice('fields['.length, -1);
        const fields = meta.fields[type];
        if (fields?.length) hint += ` Fields of ${type}: ${fields.join(', ')}.`;
      } else if (param === 'include' && meta && meta.include.length > 0) {
        hint += ` Includes allowed: ${meta.include.join(', ')}.`;
      } else if (!at) {
        hint += ' Fix the request and run again.';
      }
      return hint;
    }
    case status === 404:
      return `The id in ${req.path} does not exist in this Klaviyo account (or the key belongs to another account). Check the id.`;
    case status === 409: {
      const dup = first?.meta?.duplicate_profile_id;
      return typeof dup === 'string'
        ? `It conflicts with an existing profile (${dup}). Update that profile instead, or match on its id.`
        : 'It conflicts with an existing resource. Update the existing one instead.';
    }
    case status === 410:
      return 'Klaviyo no longer serves this API revision or endpoint. Upgrade klv or set a newer revision in the profile.';
    case status === 429:
      return `Klaviyo's rate limit was still exceeded${retried}. Lower the profile's concurrency, or run fewer programs against this account at once, then try again.`;
    case status >= 500:
      return `Klaviyo is failing${retried}. Try again later (status: https://status.klaviyo.com).`;
    default:
      return 'Check the request and run again with --verbose for the HTTP details.';
  }
}

/** A copy of an error that carries only scrubbed text (never the original object). */
export function scrubbedCause(err: unknown, scrub: (text: string) => string): Error {
  const original = err instanceof Error ? err : new Error(String(err));
  const copy = new Error(scrub(original.message));
  copy.name = original.name;
  copy.stack = scrub(original.stack ?? `${original.name}: ${original.message}`);
  const code = (original as { code?: unknown }).code;
  if (typeof code === 'string') (copy as Error & { code?: string }).code = code;
  return copy;
}

export class KlaviyoApiError extends KlvError {
  override readonly name = 'KlaviyoApiError';
  readonly status: number;
  readonly code?: string;
  readonly title?: string;
  readonly detail?: string;
  readonly source?: { pointer?: string; parameter?: string };
  readonly requestId?: string;
  readonly operationId: string;
  readonly method: string;
  readonly path: string;
  /** Every error object Klaviyo returned (the first one is described by the fields above). */
  readonly errors: KlaviyoErrorObject[];
  readonly attempts: number;
  /** A 429's Retry-After, in milliseconds, when Klaviyo sent one. */
  readonly retryAfterMs?: number;

  constructor(
    o: RequestDescription & { status: number; errors?: KlaviyoErrorObject[]; requestId?: string; attempts?: number; retryAfterMs?: number },
  ) {
    const errors = o.errors ?? [];
    const attempts = o.attempts ?? 1;
    super(apiErrorMessage(o, o.status, errors), {
      exitCode: o.status === 401 || o.status === 403 ? ExitCode.Auth : ExitCode.Failure,
      hint: apiErrorHint(o, o.status, errors, attempts),
    });
    const first = errors[0];
    this.status = o.status;
    this.code = first?.code;
    this.title = first?.title;
    this.detail = first?.detail;
    this.source = first?.source;
    this.requestId = o.requestId;
    this.operationId = o.operationId;
    this.method = o.method;
    this.path = o.path;
    this.errors = errors;
    this.attempts = attempts;
    this.retryAfterMs = o.retryAfterMs;
  }
}

/**
 * Klaviyo answered 404 Not Found: no record with that id (a wrong id, or one deleted since it was
 * listed). Readers read it as "no row", write handlers as the row's `not_found`.
 */
export function isNotFound(err: unknown): err is KlaviyoApiError {
  return err instanceof KlaviyoApiError && err.status === 404;
}

export class KlaviyoNetworkError extends KlvError {
  override readonly name = 'KlaviyoNetworkError';
  readonly operationId: string;
  readonly method: string;
  readonly path: string;
  /** ECONNREFUSED, UND_ERR_SOCKET, ... */
  readonly code: string;
  readonly attempts: number;

  constructor(o: RequestDescription & { code: string; reason: string; attempts: number; baseUrl: string; cause?: Error }) {
    const tried = o.attempts > 1 ? ` (${o.attempts} attempts)` : '';
    super(`${o.method} ${o.path} failed: could not reach Klaviyo at ${o.baseUrl}: ${o.reason}${tried}`, {
      hint:
        o.code === 'ENOTFOUND' || o.code === 'ECONNREFUSED'
          ? `Check the base URL (${o.baseUrl}) and your network connection: klv config show`
          : 'Check your network connection and try again; klv retried what was safe to retry.',
      cause: o.cause,
    });
    this.operationId = o.operationId;
    this.method = o.method;
    this.path = o.path;
    this.code = o.code;
    this.attempts = o.attempts;
  }
}

export class UnknownOutcomeError extends KlvError {
  override readonly name = 'UnknownOutcomeError';
  readonly operationId: string;
  readonly method: string;
  readonly path: string;
  /** The HTTP status when Klaviyo answered with a 5xx; undefined when the connection failed. */
  readonly status?: number;
  readonly requestId?: string;

  constructor(o: RequestDescription & { reason: string; status?: number; requestId?: string; cause?: Error }) {
    super(
      `${o.method} ${o.path} failed with ${o.reason} after the request may have been sent: the outcome is unknown (it may or may not have been applied), so it was not sent again`,
      {
        hint: 'Check in Klaviyo whether the change was made before sending it again; imports log such rows as uncertain.',
        cause: o.cause,
      },
    );
    this.operationId = o.operationId;
    this.method = o.method;
    this.path = o.path;
    this.status = o.status;
    this.requestId = o.requestId;
  }
}

/** What made an answer unusable (see KlaviyoResponseError). */
export type UnusableResponseKind =
  /** A 2xx that was not the document the operation promises (HTML, cut short, empty, no data). */
  | 'malformed'
  /** A body past klv's size limit. */
  | 'too-large'
  /** Stopped by Klaviyo's edge network (a Cloudflare challenge), after retries. */
  | 'edge-blocked'
  /** A 429 whose Retry-After is longer than klv waits. */
  | 'retry-after-too-long'
  /** `links.next` named a page of the same chain already read. */
  | 'pagination-stuck'
  /** Klaviyo kept refusing the page cursors of a read, with no progress between restarts. */
  | 'cursor-refused';

/**
 * Klaviyo (or something in front of it) answered, but not with anything klv can trust as data.
 * Never read as "no rows": the command stops (exit 1), leaving its output, cursor and table as
 * they were, and an import stops rather than failing every later row the same way.
 */
export class KlaviyoResponseError extends KlvError {
  override readonly name = 'KlaviyoResponseError';
  readonly kind: UnusableResponseKind;
  readonly operationId: string;
  readonly method: string;
  readonly path: string;
  readonly status?: number;
  readonly attempts: number;
  readonly requestId?: string;

  constructor(
    o: RequestDescription & { kind: UnusableResponseKind; message: string; hint: string; status?: number; attempts?: number; requestId?: string },
  ) {
    super(o.message, { hint: o.hint });
    this.kind = o.kind;
    this.operationId = o.operationId;
    this.method = o.method;
    this.path = o.path;
    this.status = o.status;
    this.attempts = o.attempts ?? 1;
    this.requestId = o.requestId;
  }
}

/**
 * Klaviyo refused a `page[cursor]` it issued (400 `invalid`: expired, or "Invalid cursor
 * provided."). A KlaviyoApiError like any 400 for callers that do not handle it; paginated
 * reads restart their chain instead (client.paginate).
 */
export class CursorRejectedError extends KlaviyoApiError {
  readonly cursorRejected = true;
}

/** Whether a 400 answers a request carrying `page[cursor]` by refusing that cursor. */
export function refusesCursor(status: number, errors: KlaviyoErrorObject[], target: string): boolean {
  if (status !== 400 || !/[?&]page(?:\[|%5B)cursor(?:\]|%5D)=/i.test(target)) return false;
  return errors.some((e) => e.source?.parameter === 'page[cursor]' || /cursor/i.test(`${e.detail ?? ''} ${e.title ?? ''}`));
}
