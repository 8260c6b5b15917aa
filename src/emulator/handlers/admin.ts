/**
 * The emulator's own endpoints under /_emulator (no API key: they are for tests and scripts
 * on the same machine): reset or replace the account, read it back, count requests, and
 * change fault injection and rate limiting while running.
 */
import { ApiError } from '../http/api-error.js';
import type { HandlerResult } from './types.js';

export type RateLimitMode = 'spec' | 'off';

export interface RequestCounts {
  total: number;
  byOperation: Record<string, number>;
}

/** What the admin endpoints may do to a running emulator. */
export interface EmulatorControl {
  reset(): void;
  /** Replaces the account with a snapshot; throws an Error naming what is wrong with it. */
  load(snapshot: unknown): void;
  state(): unknown;
  counts(): { resources: Record<string, number> };
  requests(): RequestCounts;
  clearRequests(): void;
  faultRate: number;
  rateLimits: RateLimitMode;
}

/** GET /_emulator/state refuses accounts this large: the JSON would take gigabytes. */
export const STATE_LIMIT = 200_000;

export function handleAdmin(method: string, path: string, body: unknown, control: EmulatorControl): HandlerResult {
  const route = `${method} ${path.replace(/\/+$/, '')}`;
  switch (route) {
    case 'POST /_emulator/reset':
      control.reset();
      return { status: 200, body: { reset: true, ...control.counts() } };
    case 'POST /_emulator/load':
      if (body === null || typeof body !== 'object') throw badRequest('POST /_emulator/load needs an account snapshot (JSON object) as the body.');
      try {
        control.load(body);
      } catch (err) {
        throw badRequest(`The snapshot was not loaded: ${(err as Error).message}`);
      }
      return { status: 200, body: { loaded: true, ...control.counts() } };
    case 'GET /_emulator/state': {
      const total = Object.values(control.counts().resources).reduce((a, b) => a + b, 0);
      if (total > STATE_LIMIT) {
        throw new ApiError(413, 'too_large', `The account has ${total} resources; GET /_emulator/state serves at most ${STATE_LIMIT}. Start the emulator with fewer --profiles to read its state.`);
      }
      return { status: 200, body: control.state() };
    }
    case 'GET /_emulator/requests':
      return { status: 200, body: control.requests() };
    case 'DELETE /_emulator/requests':
      control.clearRequests();
      return { status: 200, body: control.requests() };
    case 'POST /_emulator/faults': {
      const rate = (body as { rate?: unknown } | null)?.rate;
      if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw badRequest('POST /_emulator/faults needs {"rate": <number from 0 to 1>}.');
      control.faultRate = rate;
      return { status: 200, body: { rate } };
    }
    case 'POST /_emulator/rate-limits': {
      const mode = (body as { mode?: unknown } | null)?.mode;
      if (mode !== 'spec' && mode !== 'off') throw badRequest('POST /_emulator/rate-limits needs {"mode": "spec"} or {"mode": "off"}.');
      control.rateLimits = mode;
      return { status: 200, body: { mode } };
    }
    default:
      throw new ApiError(404, 'not_found', `No emulator endpoint ${route}. Endpoints: POST /_emulator/reset, POST /_emulator/load, GET /_emulator/state, GET|DELETE /_emulator/requests, POST /_emulator/faults, POST /_emulator/rate-limits.`);
  }
}

function badRequest(detail: string): ApiError {
  return new ApiError(400, 'invalid', detail);
}
