/**
 * Klaviyo-shaped JSON:API errors. Everything the emulator refuses goes through ApiError so that
 * every refusal has the same body as Klaviyo's: `{"errors":[{id,status,code,title,detail,source}]}`
 * with content type application/vnd.api+json.
 */
import { randomUUID } from 'node:crypto';

export interface ErrorSource {
  parameter?: string;
  pointer?: string;
}

/** Titles Klaviyo uses for each status (the `title` is generic, the `detail` is specific). */
const TITLES: Record<number, string> = {
  400: 'Invalid input.',
  401: 'Authentication credentials were not provided.',
  403: 'You do not have permission to perform this action.',
  404: 'Not found.',
  405: 'Method not allowed.',
  409: 'Conflict.',
  413: 'Request entity too large.',
  415: 'Unsupported media type.',
  429: 'Request was throttled.',
  500: 'A server error occurred.',
  501: 'Not implemented.',
  502: 'Bad gateway.',
  503: 'Service unavailable.',
};

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly source?: ErrorSource;
  /** Extra response headers (Allow on a 405, Retry-After on a 429). */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    detail: string,
    options: { source?: ErrorSource; title?: string; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.title = options.title ?? TITLES[status] ?? 'Error.';
    this.detail = detail;
    this.source = options.source;
    this.headers = options.headers ?? {};
  }

  toJSON(): Record<string, unknown> {
    return {
      id: randomUUID(),
      status: this.status,
      code: this.code,
      title: this.title,
      detail: this.detail,
      ...(this.source ? { source: this.source } : {}),
    };
  }
}

/** 400 about one query parameter: Klaviyo names it in `source.parameter`. */
export function invalidParameter(parameter: string, detail: string): ApiError {
  return new ApiError(400, 'invalid', detail, { source: { parameter } });
}

export function notFound(detail: string): ApiError {
  return new ApiError(404, 'not_found', detail);
}

export function errorDocument(...errors: ApiError[]): { errors: Record<string, unknown>[] } {
  return { errors: errors.map((e) => e.toJSON()) };
}
