/**
 * The emulator's own endpoints under /_emulator (no API key: they are for tests and scripts
 * on the same machine): reset or replace the account, read it back, count requests, change
 * fault injection, quirks and rate limiting (mode, or a reset of the windows) while running, and
 * give the account more API keys, with scopes.
 */
import { looksLikePrivateKey } from '../../core/secret.js';
import { ApiError } from '../http/api-error.js';
import { SPEC_SCOPES, unknownScopes } from '../http/scopes.js';
import { FAULT_KINDS, FaultSettingError, type FaultReport, type FaultSettings } from '../http/faults.js';
import { QuirkSettingError, quirkChangesFrom, validQuirksHint, type QuirkRates, type QuirkReport } from '../http/quirks.js';
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
  faultReport(): FaultReport;
  /** Changes the settings given; throws a FaultSettingError (nothing changed) when one is invalid. */
  updateFaults(settings: Partial<FaultSettings>): void;
  /** Ends a 429 storm under way. */
  endStorm(): void;
  quirkReport(): QuirkReport;
  /** Applies checked changes (quirk name -> new rate, 0 = off). */
  updateQuirks(changes: QuirkRates): void;
  /** What a person's click on the confirmation link does, for pending double opt-ins; returns how many. */
  confirmSubscriptions(filter: { listId?: string; profileId?: string }): number;
  rateLimits: RateLimitMode;
  /** Empties every rate-limit window of the account (tests start each run with full windows). */
  resetRateLimits(): void;
  /** Accepts `key` from now on, with these scopes (undefined: every scope). */
  registerKey(key: string, scopes?: readonly string[]): void;
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
    case 'GET /_emulator/faults':
      return { status: 200, body: control.faultReport() };
    case 'DELETE /_emulator/storm':
      control.endStorm();
      return { status: 200, body: control.faultReport() };
    case 'POST /_emulator/faults': {
      const settings = faultSettingsFrom(body);
      try {
        control.updateFaults(settings);
      } catch (err) {
        if (err instanceof FaultSettingError) throw badRequest(`POST /_emulator/faults: "${err.field}": ${err.message}. ${FAULTS_BODY_HINT}`);
        throw err;
      }
      return { status: 200, body: control.faultReport() };
    }
    case 'GET /_emulator/quirks':
      return { status: 200, body: control.quirkReport() };
    case 'POST /_emulator/quirks': {
      let changes: QuirkRates;
      try {
        changes = quirkChangesFrom(body);
      } catch (err) {
        if (!(err instanceof QuirkSettingError)) throw err;
        // The hint lists every quirk already when the name was unknown.
        const hint = err.message.includes('valid quirks:') ? QUIRKS_BODY_HINT : `${QUIRKS_BODY_HINT} ${validQuirksHint()}.`;
        throw badRequest(`POST /_emulator/quirks: "${err.field}": ${err.message}. ${hint}`);
      }
      control.updateQuirks(changes);
      return { status: 200, body: control.quirkReport() };
    }
    case 'POST /_emulator/confirm-subscriptions': {
      // No body: every pending confirmation. {"listId"} and/or {"profileId"} narrow it.
      const given = body === null || body === undefined ? {} : body;
      if (typeof given !== 'object' || Array.isArray(given)) throw badRequest(CONFIRM_HINT);
      const filter = given as Record<string, unknown>;
      const unknown = Object.keys(filter).filter((k) => k !== 'listId' && k !== 'profileId');
      const badValue = ['listId', 'profileId'].some((k) => filter[k] !== undefined && typeof filter[k] !== 'string');
      if (unknown.length > 0 || badValue) throw badRequest(CONFIRM_HINT);
      const confirmed = control.confirmSubscriptions({ listId: filter.listId as string | undefined, profileId: filter.profileId as string | undefined });
      return { status: 200, body: { confirmed } };
    }
    case 'POST /_emulator/rate-limits': {
      const { mode, reset } = rateLimitRequestFrom(body);
      if (mode !== undefined) control.rateLimits = mode;
      if (reset) control.resetRateLimits();
      return { status: 200, body: { mode: control.rateLimits, ...(reset ? { reset: true } : {}) } };
    }
    case 'POST /_emulator/keys': {
      const { key, scopes } = keyRequestFrom(body);
      control.registerKey(key, scopes);
      // Never the key itself: responses end up in logs.
      return { status: 200, body: { registered: true, scopes: scopes ?? 'all' } };
    }
    default:
      throw new ApiError(404, 'not_found', `No emulator endpoint ${route}. Endpoints: POST /_emulator/reset, POST /_emulator/load, GET /_emulator/state, GET|DELETE /_emulator/requests, GET|POST /_emulator/faults, DELETE /_emulator/storm, GET|POST /_emulator/quirks, POST /_emulator/confirm-subscriptions, POST /_emulator/rate-limits, POST /_emulator/keys.`);
  }
}

const RATE_LIMITS_HINT =
  'POST /_emulator/rate-limits takes {"mode": "spec"} or {"mode": "off"} to switch rate limiting, {"reset": true} to empty ' +
  "every window of the account (the next request starts afresh), or both at once.";

/** The body of POST /_emulator/rate-limits: a mode to switch to, a reset of the windows, or both. */
function rateLimitRequestFrom(body: unknown): { mode?: RateLimitMode; reset: boolean } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest(RATE_LIMITS_HINT);
  const given = body as Record<string, unknown>;
  const unknown = Object.keys(given).filter((k) => k !== 'mode' && k !== 'reset');
  const { mode, reset } = given;
  if (unknown.length > 0 || (mode !== undefined && mode !== 'spec' && mode !== 'off') || (reset !== undefined && reset !== true) || (mode === undefined && reset === undefined)) {
    throw badRequest(RATE_LIMITS_HINT);
  }
  return { mode: mode as RateLimitMode | undefined, reset: reset === true };
}

const KEYS_HINT =
  'POST /_emulator/keys takes {"key": "pk_...", "scopes": ["profiles:read", ...]}: the account then accepts that private key ' +
  'with those scopes (without "scopes": every scope); a key registered again gets the new scopes.';

/** The body of POST /_emulator/keys; the key is never repeated in a refusal. */
function keyRequestFrom(body: unknown): { key: string; scopes?: string[] } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest(KEYS_HINT);
  const given = body as Record<string, unknown>;
  const unknown = Object.keys(given).filter((k) => k !== 'key' && k !== 'scopes');
  if (unknown.length > 0) throw badRequest(`POST /_emulator/keys: unknown field${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => `"${k}"`).join(', ')}. ${KEYS_HINT}`);
  if (typeof given.key !== 'string' || !looksLikePrivateKey(given.key)) {
    throw badRequest(`POST /_emulator/keys: "key" must be a private API key (pk_ followed by at least 6 letters, digits or underscores). ${KEYS_HINT}`);
  }
  if (given.scopes === undefined) return { key: given.key };
  const scopes = given.scopes;
  if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string')) throw badRequest(`POST /_emulator/keys: "scopes" must be a list of scope names. ${KEYS_HINT}`);
  const bad = unknownScopes(scopes as string[]);
  if (bad.length > 0) {
    throw badRequest(`POST /_emulator/keys: unknown scope${bad.length === 1 ? '' : 's'} ${bad.map((s) => `"${s}"`).join(', ')}; the spec's scopes are ${SPEC_SCOPES.join(', ')}.`);
  }
  return { key: given.key, scopes: scopes as string[] };
}

const CONFIRM_HINT =
  'POST /_emulator/confirm-subscriptions takes no body (every pending double opt-in), or {"listId": "...", "profileId": "..."} (either or both, strings) to confirm only those.';

const QUIRKS_BODY_HINT =
  'Send an object of changes, e.g. {"html-200": 0.5, "unsorted-pages": true, "microseconds": false}: a rate (0..1) or true (the default rate) for a transient quirk, true or false for a structural one; 0 or false turns a quirk off, quirks not named keep their settings.';

const FAULT_FIELDS = ['rate', 'kinds', 'slowMs', 'stormMs', 'jobFailRate'] as const;
const FAULTS_BODY_HINT =
  `Send any of {"rate": 0..1, "kinds": [${FAULT_KINDS.map((k) => `"${k}"`).join(', ')}] (or "all"), ` +
  '"slowMs": ms, "stormMs": ms, "jobFailRate": 0..1}; fields not sent keep their values.';

/**
 * The body of POST /_emulator/faults as settings. Shape only (an object, known fields, kinds a
 * list or "all"); the values are checked by the injector, which names the field it refuses.
 */
function faultSettingsFrom(body: unknown): Partial<FaultSettings> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest(`POST /_emulator/faults needs a JSON object. ${FAULTS_BODY_HINT}`);
  }
  const given = body as Record<string, unknown>;
  const unknown = Object.keys(given).filter((k) => !(FAULT_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw badRequest(`POST /_emulator/faults: unknown field${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => `"${k}"`).join(', ')}; allowed: ${FAULT_FIELDS.join(', ')}. ${FAULTS_BODY_HINT}`);
  }
  const settings: Record<string, unknown> = {};
  for (const field of FAULT_FIELDS) if (given[field] !== undefined) settings[field] = given[field];
  if (settings.kinds === 'all') settings.kinds = [...FAULT_KINDS];
  else if (settings.kinds !== undefined && !Array.isArray(settings.kinds)) {
    throw badRequest(`POST /_emulator/faults: "kinds" must be a list of fault kinds or "all"; allowed kinds: ${FAULT_KINDS.join(', ')}. ${FAULTS_BODY_HINT}`);
  }
  return settings as Partial<FaultSettings>;
}

function badRequest(detail: string): ApiError {
  return new ApiError(400, 'invalid', detail);
}
