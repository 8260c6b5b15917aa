/**
 * The Klaviyo emulator: a real node:http server on loopback that answers /api requests as
 * Klaviyo's OpenAPI spec says (routing, API key, revision header, query validation, rate
 * limits, JSON:API documents and errors) from an in-memory account, plus the /_emulator admin
 * endpoints. The request pipeline lives here; everything it calls is in http/ (protocol) and
 * handlers/ (endpoints).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { OPERATIONS, SPEC_REVISION, type OperationId } from '../klaviyo/generated/api-metadata.js';
import type { AccountSnapshot, AccountStore } from './store/types.js';
import { snapshotOf, storeFromSnapshot } from './store/account-store.js';
import { initialStoreFactory } from './initial-store.js';
import { ApiError, errorDocument } from './http/api-error.js';
import { authenticate, checkRevision, KeyRing } from './http/auth.js';
import { FaultInjector, type FaultKind, type FaultReport, type FaultSettings } from './http/faults.js';
import { httpUrl, isLoopbackHost } from './http/loopback.js';
import { PageCache } from './http/paging.js';
import { parseQuery } from './http/query.js';
import { quirkedQuery } from './http/quirk-queries.js';
import { rewriteDocumentDatetimes } from './http/quirk-datetimes.js';
import { cfChallenge, cfRay, empty200, expiredCursor, html200, isJsonSuccess, klaviyoHostLinks, repeatCursor, truncatedJson, withoutRetryAfter } from './http/quirk-responses.js';
import { QuirkSet, type QuirkDraw, type QuirkName, type QuirkRates, type QuirkReport, type QuirkSettings } from './http/quirks.js';
import { RateLimiter } from './http/rate-limiter.js';
import { recordedHeaders, recordExchange } from './http/recorder.js';
import { bodyForRecord, errorResult, parseJson, readBody, send, sendJson, serialize, type Outgoing } from './http/respond.js';
import { Router } from './http/router.js';
import { requireScopes, unknownScopes } from './http/scopes.js';
import { rateLimitBucket } from '../klaviyo/rate-limit-buckets.js';
import { handleAdmin, type EmulatorControl, type RateLimitMode } from './handlers/admin.js';
import { confirmPendingSubscriptions } from './handlers/write-subscriptions.js';
import { handlerFor } from './handlers/index.js';
import type { HandlerResult } from './handlers/types.js';

export interface EmulatorOptions {
  /** Loopback address to listen on (default 127.0.0.1); anything else is refused. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Serve this account instead of building one from `data`. */
  store?: AccountStore;
  /** The initial account: the demo account (default), an empty one, or a snapshot JSON file. */
  data?: 'demo' | 'empty' | string;
  /** Profiles in the demo account. */
  profiles?: number;
  /** Seed for demo data, ids and fault injection (default 1). */
  seed?: number;
  rateLimits?: RateLimitMode;
  /** Fraction (0..1) of /api requests that get a fault (see http/faults.ts). */
  faults?: number;
  /** The fault kinds handed out in turn (default 500, 502, 503, drop). */
  faultKinds?: readonly FaultKind[];
  /** How long a `slow` fault holds the response back (default 1500 ms). */
  slowMs?: number;
  /** How long a 429 storm lasts, measured with `clock` (default 2000 ms). */
  stormMs?: number;
  /** Fraction (0..1) of profile bulk import jobs that end `cancelled` half-way (default 0). */
  jobFailRate?: number;
  /**
   * Real-world quirks to switch on (see http/quirks.ts): `html-200=0.5,unsorted-pages`, or an
   * object name -> rate (transient quirks), true or false. Invalid settings throw at start.
   */
  quirks?: QuirkSettings;
  /** Delay added to every /api response. */
  latencyMs?: number;
  /** Accept only this private key (default: any key that looks like pk_...). */
  key?: string;
  /** The scopes `key` was created with (default: every scope); names from the spec's scopes. */
  scopes?: readonly string[];
  clock?: () => Date;
  /** NDJSON file receiving every /api exchange; defaults to env KLV_EMULATOR_RECORD. */
  record?: string;
}

export interface RunningEmulator {
  url: string;
  port: number;
  /** The account currently served (replaced by POST /_emulator/reset and /_emulator/load). */
  store: AccountStore;
  close(): Promise<void>;
}

export async function startEmulator(o: EmulatorOptions = {}): Promise<RunningEmulator> {
  const host = o.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    throw new Error(`The emulator listens only on loopback addresses (127.0.0.1, ::1, localhost), not '${host}': it accepts any API key.`);
  }
  if (o.scopes && o.key === undefined) throw new Error('Scopes belong to a key: give the key they are for (key) with them.');
  const unknown = unknownScopes(o.scopes ?? []);
  if (unknown.length > 0) throw new Error(`Unknown scope${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}: the spec uses only the scopes listed in src/emulator/http/scopes.ts (SPEC_SCOPES).`);
  const clock = o.clock ?? (() => new Date());
  const seed = o.seed ?? 1;
  const initialStore = initialStoreFactory(o, clock, seed);
  const emulator = new Emulator({
    store: initialStore(),
    initialStore,
    storeOptions: { seed, clock },
    clock,
    seed,
    rateLimits: o.rateLimits ?? 'spec',
    faults: { rate: o.faults, kinds: o.faultKinds, slowMs: o.slowMs, stormMs: o.stormMs, jobFailRate: o.jobFailRate },
    quirks: o.quirks,
    latencyMs: o.latencyMs ?? 0,
    keys: new KeyRing(o.key === undefined ? undefined : { key: o.key, scopes: o.scopes }),
    record: o.record ?? (process.env.KLV_EMULATOR_RECORD || undefined),
  });

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    emulator.handle(req, res).catch((err: unknown) => {
      // A bug in the pipeline itself: answer if still possible, never crash the server.
      if (!res.headersSent) sendJson(res, 500, errorDocument(new ApiError(500, 'error', `Emulator failure: ${(err as Error).message}`)));
      else res.destroy();
    });
  });
  // Idle keep-alive connections stay open for a minute, as behind Klaviyo's load balancers.
  // With Node's default of 5 s, a client whose pool still held such a connection (undici keeps
  // them 4 s, longer when its event loop is busy) could reuse it just as the server closed it,
  // and get ECONNRESET for a request that was never handled. close() destroys them anyway.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (o.port ?? 0);
  const url = httpUrl(host, port);
  emulator.baseUrl = url;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    get store() {
      return emulator.store;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

interface EmulatorConfig {
  store: AccountStore;
  initialStore: () => AccountStore;
  storeOptions: { seed: number; clock: () => Date };
  clock: () => Date;
  seed: number;
  rateLimits: RateLimitMode;
  faults: Partial<FaultSettings>;
  quirks?: QuirkSettings;
  latencyMs: number;
  keys: KeyRing;
  record?: string;
}

class Emulator implements EmulatorControl {
  store: AccountStore;
  baseUrl = '';
  rateLimits: RateLimitMode;
  readonly #config: EmulatorConfig;
  readonly #router = new Router();
  readonly #limiter: RateLimiter;
  readonly #faults: FaultInjector;
  readonly #quirks: QuirkSet;
  readonly #pageCache = new PageCache();
  #requests = { total: 0, byOperation: {} as Record<string, number> };

  constructor(config: EmulatorConfig) {
    this.#config = config;
    this.store = config.store;
    this.rateLimits = config.rateLimits;
    this.#limiter = new RateLimiter(() => config.clock().getTime());
    // Storms are measured with the emulator's clock, like the rate limits: a fake clock ends them.
    this.#faults = new FaultInjector({ ...withoutUndefined(config.faults), seed: config.seed, now: () => config.clock().getTime() });
    this.#quirks = new QuirkSet({ seed: config.seed, quirks: config.quirks });
  }

  // --- EmulatorControl (admin endpoints) ---

  faultReport(): FaultReport {
    return this.#faults.report();
  }

  endStorm(): void {
    this.#faults.endStorm();
  }

  updateFaults(settings: Partial<FaultSettings>): void {
    this.#faults.update(settings);
  }

  quirkReport(): QuirkReport {
    return this.#quirks.report();
  }

  updateQuirks(changes: QuirkRates): void {
    this.#quirks.update(changes);
    // A cursor chain started under other quirks must not resume an iterator that read under them.
    this.#pageCache.clear();
  }

  confirmSubscriptions(filter: { listId?: string; profileId?: string }): number {
    return confirmPendingSubscriptions(this.store, filter);
  }

  registerKey(key: string, scopes?: readonly string[]): void {
    this.#config.keys.register(key, scopes);
  }

  reset(): void {
    this.#replaceStore(this.#config.initialStore());
    this.#limiter.reset();
  }

  resetRateLimits(): void {
    this.#limiter.reset();
  }

  load(snapshot: unknown): void {
    this.#replaceStore(storeFromSnapshot(snapshot as AccountSnapshot, this.#config.storeOptions));
  }

  state(): unknown {
    return snapshotOf(this.store);
  }

  counts(): { resources: Record<string, number> } {
    const resources: Record<string, number> = {};
    for (const type of this.store.types()) resources[type] = this.store.collection(type).count();
    return { resources };
  }

  requests(): { total: number; byOperation: Record<string, number> } {
    return { total: this.#requests.total, byOperation: { ...this.#requests.byOperation } };
  }

  clearRequests(): void {
    this.#requests = { total: 0, byOperation: {} };
  }

  #replaceStore(store: AccountStore): void {
    this.store = store;
    // Cursors of the old account must not resume iterators over it.
    this.#pageCache.clear();
  }

  // --- request pipeline ---

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Resolved by concatenation, not as a relative reference: `//host/x` must stay a path here.
    const target = req.url ?? '/';
    const url = new URL(this.baseUrl + (target.startsWith('/') ? target : `/${target}`));
    const method = (req.method ?? 'GET').toUpperCase();
    let raw: Buffer | null;
    try {
      raw = await readBody(req);
    } catch (err) {
      sendJson(res, 413, errorDocument(new ApiError(413, 'too_large', `${(err as Error).message}; Klaviyo accepts at most 5 MB per request.`)), { connection: 'close' });
      return;
    }
    if (url.pathname === '/_emulator' || url.pathname.startsWith('/_emulator/')) {
      let result: HandlerResult;
      try {
        result = handleAdmin(method, url.pathname, raw === null ? null : parseJson(raw), this);
      } catch (err) {
        result = errorResult(err);
      }
      sendJson(res, result.status, result.body, result.headers);
      return;
    }
    if (url.pathname === '/api' || url.pathname.startsWith('/api/')) {
      await this.#handleApi(req, res, method, url, raw);
      return;
    }
    sendJson(res, 404, errorDocument(new ApiError(404, 'not_found', `Nothing at ${url.pathname}: Klaviyo's API lives under /api/, the emulator's own endpoints under /_emulator/.`)));
  }

  async #handleApi(req: IncomingMessage, res: ServerResponse, method: string, url: URL, raw: Buffer | null): Promise<void> {
    const route = this.#router.match(method, url.pathname);
    const operationId: OperationId | null = route.kind === 'operation' ? route.operationId : null;
    this.#requests.total += 1;
    if (operationId) this.#requests.byOperation[operationId] = (this.#requests.byOperation[operationId] ?? 0) + 1;

    let requestBody: unknown = null;
    let result: HandlerResult | undefined;
    let rateHeaders: Record<string, string> = {};
    let fault: ReturnType<FaultInjector['next']> = null;
    let hits: QuirkDraw = new Set();
    /** An answer from "the edge" (a transient quirk): the API never saw the request. */
    let edge: Outgoing | null = null;
    const applied = new Set<QuirkName>();
    try {
      if (route.kind === 'not-found') {
        throw new ApiError(404, 'not_found', `No Klaviyo endpoint at ${url.pathname} in revision ${SPEC_REVISION}; check the path against the API reference.`);
      }
      if (route.kind === 'method-not-allowed') {
        throw new ApiError(405, 'method_not_allowed', `Method ${method} is not allowed on ${url.pathname}; allowed: ${route.allowed.join(', ')}.`, {
          headers: { allow: route.allowed.join(', ') },
        });
      }
      const op = OPERATIONS[route.operationId];
      const grant = authenticate(req.headers, this.#config.keys);
      checkRevision(req.headers);
      // Before the rate limits, as Klaviyo checks permissions first: a refused request costs nothing.
      requireScopes(grant, op);
      if (this.rateLimits === 'spec') rateHeaders = this.#takeRateLimit(route.operationId, op, url);
      fault = this.#faults.next();
      // Quirks draw after the fault decision, every stream once per request that reaches it.
      hits = this.#quirks.draw();
      if (fault?.kind === 'drop') {
        // A connection lost mid-request: no response at all, and nothing to record.
        req.socket.destroy();
        return;
      }
      throwStatusFault(fault);
      edge = this.#edgeAnswer(hits, applied);
      if (!edge) {
        const cursor = url.searchParams.get('page[cursor]');
        if (method === 'GET' && cursor !== null && hits.has('expired-cursor')) {
          applied.add('expired-cursor');
          throw expiredCursor(cursor);
        }
        if (raw !== null) requestBody = parseJson(raw);
        const parsed = quirkedQuery(parseQuery(route.operationId, op, url.searchParams), { operationId: route.operationId, op }, (n) => this.#quirks.on(n));
        for (const name of parsed.applied) applied.add(name);
        const handler = handlerFor(route.operationId);
        if (!handler) {
          throw new ApiError(501, 'not_implemented', `The emulator does not implement ${op.method} ${op.path} (${route.operationId}) yet.`);
        }
        result = await handler({
          operationId: route.operationId,
          op,
          params: route.params,
          query: parsed.query,
          store: this.store,
          url,
          baseUrl: this.baseUrl,
          body: requestBody,
          pageCache: this.#pageCache,
          jobFaults: this.#faults,
          quirks: { unsortedPages: this.#quirks.on('unsorted-pages') },
        });
      }
    } catch (err) {
      result = errorResult(err);
    }
    if (this.#config.latencyMs > 0) await delay(this.#config.latencyMs);
    let out: Outgoing;
    if (edge) {
      out = edge;
    } else {
      result = this.#quirkedResult(result!, hits, applied);
      out = serialize(result.status, result.body, { ...(result.status === 429 ? {} : rateHeaders), ...result.headers });
      if (fault?.kind !== 'drop-after') out = quirkedBytes(out, hits, applied);
    }
    for (const name of applied) this.#quirks.count(name);
    if (this.#config.record) {
      // A byte-level quirk (or an edge page) sent something that is not the result: record what was sent.
      const sentOther = edge !== null || applied.has('truncated-json') || applied.has('empty-200');
      recordExchange(this.#config.record, {
        operationId,
        method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        requestHeaders: recordedHeaders(req.headers),
        requestBody: requestBody ?? (raw === null ? null : bodyForRecord(raw)),
        status: out.status,
        responseBody: sentOther ? (out.body.length > 0 ? out.body.toString('utf8') : null) : (result?.body ?? null),
        ...(fault?.kind === 'drop-after' ? { dropped: true } : {}),
        ...(applied.size > 0 ? { quirks: [...applied] } : {}),
      });
    }
    if (fault?.kind === 'drop-after') {
      // Handled and recorded, but the client never learns the outcome: the worst case for a write.
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'slow') {
      await delay(fault.delayMs);
      // The client may have timed out and gone meanwhile; send skips a destroyed response.
    }
    send(res, out);
  }

  /** The rate-limit headers of an admitted request; throws the 429 of a refused one. */
  #takeRateLimit(operationId: OperationId, op: (typeof OPERATIONS)[OperationId], url: URL): Record<string, string> {
    const bucket = rateLimitBucket(operationId, url.searchParams) ?? { key: operationId, limit: op.rateLimit };
    // Per account, not per key: every private key of the account draws on the same windows.
    const decision = this.#limiter.take(bucket.key, bucket.limit);
    if (!decision.allowed) {
      const window = decision.window === 'burst' ? 'per second' : decision.window === 'steady' ? 'per minute' : 'per day';
      throw new ApiError(429, 'throttled', `Request was throttled: ${op.method} ${op.path} allows ${decision.limit} request${decision.limit === 1 ? '' : 's'} ${window}. Expected available in ${decision.retryAfterSeconds} second${decision.retryAfterSeconds === 1 ? '' : 's'}.${decision.window === 'daily' ? " This is Klaviyo's daily cap for this endpoint; it resets at 00:00 UTC." : ''}`, {
        headers: { 'retry-after': String(decision.retryAfterSeconds) },
      });
    }
    if (decision.limit === null) return {};
    return {
      'ratelimit-limit': String(decision.limit),
      'ratelimit-remaining': String(decision.remaining),
      'ratelimit-reset': String(decision.resetSeconds),
    };
  }

  /** html-200 or cf-challenge when one hit this request (the challenge first: it is the more specific). */
  #edgeAnswer(hits: QuirkDraw, applied: Set<QuirkName>): Outgoing | null {
    if (hits.has('cf-challenge')) {
      applied.add('cf-challenge');
      return cfChallenge(cfRay(this.#requests.total));
    }
    if (hits.has('html-200')) {
      applied.add('html-200');
      return html200();
    }
    return null;
  }

  /** The result as the document-level quirks change it (on a copy: bodies may share objects with the store). */
  #quirkedResult(result: HandlerResult, hits: QuirkDraw, applied: Set<QuirkName>): HandlerResult {
    for (const name of result.quirks ?? []) applied.add(name);
    const quirks = this.#quirks;
    if (quirks.on('no-retry-after')) {
      const changed = withoutRetryAfter(result);
      if (changed) {
        result = changed;
        applied.add('no-retry-after');
      }
    }
    const datetimes = { microseconds: quirks.on('microseconds'), spaceDatetimes: quirks.on('space-datetimes') };
    const documentQuirks = hits.has('repeat-cursor') || quirks.on('klaviyo-host-links') || datetimes.microseconds || datetimes.spaceDatetimes;
    if (!documentQuirks || result.body === undefined || result.status < 200 || result.status >= 300) return result;
    const body = structuredClone(result.body);
    if (hits.has('repeat-cursor') && repeatCursor(body)) applied.add('repeat-cursor');
    const changed = rewriteDocumentDatetimes(body, datetimes);
    if (changed.microseconds) applied.add('microseconds');
    if (changed.spaceDatetimes) applied.add('space-datetimes');
    if (quirks.on('klaviyo-host-links') && klaviyoHostLinks(body, this.baseUrl)) applied.add('klaviyo-host-links');
    return { ...result, body };
  }
}

/** The answer of an injected status fault (500, 502, 503, or a 429 storm), thrown; nothing for other faults. */
function throwStatusFault(fault: ReturnType<FaultInjector['next']>): void {
  if (fault?.kind === '500' || fault?.kind === '502' || fault?.kind === '503') {
    const status = Number(fault.kind);
    throw new ApiError(status, status === 503 ? 'service_unavailable' : 'error', `Injected fault (--faults): the emulator answered ${status} on purpose; retry the request.`);
  }
  if (fault?.kind === '429') {
    const s = fault.retryAfterSeconds;
    throw new ApiError(429, 'throttled', `Request was throttled: injected 429 storm (--fault-kinds 429), every request is refused for a while. Expected available in ${s} second${s === 1 ? '' : 's'}.`, {
      headers: { 'retry-after': String(s) },
    });
  }
}

/** truncated-json or empty-200 on a 2xx JSON answer, when one hit this request. */
function quirkedBytes(out: Outgoing, hits: QuirkDraw, applied: Set<QuirkName>): Outgoing {
  if (!isJsonSuccess(out)) return out;
  if (hits.has('truncated-json')) {
    applied.add('truncated-json');
    return truncatedJson(out);
  }
  if (hits.has('empty-200')) {
    applied.add('empty-200');
    return empty200(out);
  }
  return out;
}

/** The settings given, without the ones left undefined (which would override the defaults). */
function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

