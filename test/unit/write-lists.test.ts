/**
 * Lists import handlers against undici's MockAgent: what goes on the wire for insert, update and
 * delete; Klaviyo's errors as row failures with Klaviyo's code and detail; the daily creation cap
 * (a 429 whose Retry-After reaches the next day) failing that row and every later insert WITHOUT
 * sending them; --dry-run's ChangedColumns; and the client option that makes all this possible
 * (`maxRetryAfterMs`: a long Retry-After is not waited out).
 */
import { describe, expect, it } from 'vitest';
import { KlaviyoApiError } from '../../src/klaviyo/errors.js';
import { Lists } from '../../src/objects/catalog/lists.js';
import { LIST_DAILY_CAP } from '../../src/objects/write/lists.js';
import type { ImportRow, OperationHandler, RowOutcome, WriteContext } from '../../src/objects/write/types.js';
import { row, runHandler } from '../helpers/handlers.js';
import { JSON_API, mockKlaviyo, pathIs as path, writeContext, type MockKlaviyo } from '../helpers/mock-klaviyo.js';

let mock: MockKlaviyo;

function setup() {
  mock = mockKlaviyo({ clockStart: Date.UTC(2026, 6, 15, 18, 0, 0) });
  const ctx = writeContext(mock.client, mock.clock);
  return { client: mock.client, clock: mock.clock, ctx, pool: mock.pool, debug: ctx.lines };
}

const calls = () => mock.calls();
const bodyOf = (i: number) => mock.bodyOf(i);
const handler = (op: 'insert' | 'update' | 'delete'): OperationHandler => Lists.write![op]!;

/** One row a batch, as the pipeline sends these handlers' rows. */
const run = (op: 'insert' | 'update' | 'delete', rows: ImportRow[], ctx: WriteContext): Promise<RowOutcome[]> => runHandler(handler(op), rows, ctx, 1);

describe('Lists catalog', () => {
  it('offers insert, update and delete, one row per request', () => {
    expect(Lists.operations).toEqual(['insert', 'update', 'delete']);
    expect(Object.keys(Lists.write!).sort()).toEqual(['delete', 'insert', 'update']);
    for (const op of ['insert', 'update', 'delete'] as const) {
      expect(handler(op).operation).toBe(op);
      expect(handler(op).maxBatchSize).toBe(1);
    }
    expect(handler('insert').idempotent).toBe(false);
    expect(handler('update').idempotent).toBe(true);
    expect(handler('delete').idempotent).toBe(true);
    expect(handler('insert').requiredColumns).toEqual(['Name']);
    expect(handler('update').requiredColumns).toEqual(['Id']);
  });
});

describe('insert', () => {
  it('creates a list per row with name and opt-in process; the success gives the new id', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/lists'), method: 'POST' }).reply(201, { data: { type: 'list', id: 'NEW1', attributes: { name: 'VIP' } } }, { headers: JSON_API });
    pool.intercept({ path: path('/api/lists'), method: 'POST' }).reply(201, { data: { type: 'list', id: 'NEW2', attributes: { name: 'Newsletter' } } }, { headers: JSON_API });

    const out = await run('insert', [row(1, { Name: 'VIP', OptInProcess: 'double_opt_in' }), row(2, { Name: 'Newsletter' })], ctx);

    expect(out).toEqual([
      { ok: true, rowNumber: 1, status: 'created', id: 'NEW1' },
      { ok: true, rowNumber: 2, status: 'created', id: 'NEW2' },
    ]);
    expect(bodyOf(0)).toEqual({ data: { type: 'list', attributes: { name: 'VIP', opt_in_process: 'double_opt_in' } } });
    // No opt-in process given: Klaviyo applies the account default.
    expect(bodyOf(1)).toEqual({ data: { type: 'list', attributes: { name: 'Newsletter' } } });
  });

  it('fails a row without a name before sending it', async () => {
    const { ctx } = setup();
    const out = await run('insert', [row(7, { Name: '  ' }), row(8, { OptInProcess: 'single_opt_in' })], ctx);
    expect(out).toEqual([
      expect.objectContaining({ ok: false, rowNumber: 7, code: 'missing_value' }),
      expect.objectContaining({ ok: false, rowNumber: 8, code: 'missing_value' }),
    ]);
    expect(calls()).toHaveLength(0);
  });

  it("maps Klaviyo's refusal to the row: its code, detail and pointer", async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/lists'), method: 'POST' }).reply(
      400,
      { errors: [{ id: 'e1', status: 400, code: 'invalid', title: 'Invalid input.', detail: "'maybe' is not a valid choice for 'opt_in_process'", source: { pointer: '/data/attributes/opt_in_process' } }] },
      { headers: JSON_API },
    );
    const [out] = await run('insert', [row(3, { Name: 'X', OptInProcess: 'maybe' })], ctx);
    expect(out).toEqual({
      ok: false,
      rowNumber: 3,
      code: 'invalid',
      message: "'maybe' is not a valid choice for 'opt_in_process' (/data/attributes/opt_in_process)",
    });
  });

  it('a 5xx on create is an unknown outcome: not sent again, the row says so', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/lists'), method: 'POST' }).reply(503, 'unavailable');
    const [out] = await run('insert', [row(1, { Name: 'X' })], ctx);
    expect(out).toMatchObject({ ok: false, code: 'unknown_outcome' });
    expect(calls()).toHaveLength(1);
  });

  it('a refused key is not a row failure: it is thrown for the pipeline to stop', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/lists'), method: 'POST' }).reply(401, { errors: [{ code: 'not_authenticated', detail: 'bad key' }] });
    await expect(run('insert', [row(1, { Name: 'X' })], ctx)).rejects.toMatchObject({ name: 'KlaviyoApiError', status: 401 });
  });

  describe('the daily cap', () => {
    const capped = (retryAfterSeconds: number) => ({
      status: 429,
      body: { errors: [{ id: 'e', status: 429, code: 'throttled', title: 'Request was throttled.', detail: 'Request was throttled. Expected available in 21600 seconds.' }] },
      headers: { ...JSON_API, 'retry-after': String(retryAfterSeconds) },
    });

    it('fails the row that met it with daily_limit and the time it lifts, and sends no later insert', async () => {
      const { ctx, pool, clock } = setup();
      let n = 0;
      pool
        .intercept({ path: path('/api/lists'), method: 'POST' })
        .reply(() => {
          n += 1;
          if (n <= 2) return { statusCode: 201, data: { data: { type: 'list', id: `L${n}` } }, responseOptions: { headers: JSON_API } };
          const c = capped(6 * 3600);
          return { statusCode: c.status, data: c.body, responseOptions: { headers: c.headers } };
        })
        .persist();

      const rows = Array.from({ length: 10 }, (_, i) => row(i + 1, { Name: `List ${i + 1}` }));
      const started = clock.now();
      const out = await run('insert', rows, ctx);

      // Two created, the third met the cap: exactly three POSTs, nothing for rows 4-10.
      expect(calls().filter((c) => c.method === 'POST')).toHaveLength(3);
      expect(out.slice(0, 2).map((o) => o.ok)).toEqual([true, true]);
      const until = new Date(started + 6 * 3600 * 1000).toISOString().replace('.000Z', 'Z');
      expect(out[2]).toMatchObject({ ok: false, rowNumber: 3, code: 'daily_limit' });
      const first = out[2] as { message: string };
      expect(first.message).toContain(`Klaviyo allows ${LIST_DAILY_CAP} new lists a day`);
      expect(first.message).toContain(`try again after ${until}`);
      expect(first.message).toContain('Request was throttled');
      for (const o of out.slice(3)) {
        expect(o).toMatchObject({ ok: false, code: 'daily_limit' });
        expect((o as { message: string }).message).toContain(`try again after ${until}`);
        expect((o as { message: string }).message).toContain('Not sent');
      }
      expect(out.map((o) => o.rowNumber)).toEqual(rows.map((r) => r.rowNumber));
      // Not waited out: no hours-long sleep.
      expect(clock.sleeps.every((ms) => ms < 120_000)).toBe(true);
    });

    it('does not carry a cap over to another run (another client)', async () => {
      const first = setup();
      first.pool.intercept({ path: path('/api/lists'), method: 'POST' }).reply(429, capped(3600).body, { headers: capped(3600).headers });
      await run('insert', [row(1, { Name: 'A' })], first.ctx);

      const second = setup();
      second.pool.intercept({ path: path('/api/lists'), method: 'POST' }).reply(201, { data: { type: 'list', id: 'OK' } }, { headers: JSON_API });
      const [out] = await run('insert', [row(1, { Name: 'A' })], second.ctx);
      expect(out).toMatchObject({ ok: true, id: 'OK' });
    });

    it('waits out an ordinary per-minute 429 and creates the list', async () => {
      const { ctx, pool } = setup();
      pool.intercept({ path: path('/api/lists'), method: 'POST' }).reply(429, { errors: [{ code: 'throttled', detail: 'slow down' }] }, { headers: { 'retry-after': '30' } });
      pool.intercept({ path: path('/api/lists'), method: 'POST' }).reply(201, { data: { type: 'list', id: 'L1' } }, { headers: JSON_API });
      const [out] = await run('insert', [row(1, { Name: 'A' })], ctx);
      expect(out).toMatchObject({ ok: true, id: 'L1' });
      expect(calls()).toHaveLength(2);
    });

    it('recognises the cap from Klaviyo\'s words when the Retry-After is short', async () => {
      const { ctx, pool } = setup();
      pool
        .intercept({ path: path('/api/lists'), method: 'POST' })
        .reply(429, { errors: [{ code: 'throttled', detail: 'You have exceeded the daily limit for list creation.' }] }, { headers: { 'retry-after': '1' } })
        .persist();
      const out = await run('insert', [row(1, { Name: 'A' }), row(2, { Name: 'B' })], ctx);
      expect(out[0]).toMatchObject({ ok: false, code: 'daily_limit' });
      expect((out[0] as { message: string }).message).toContain('try again tomorrow');
      expect(out[1]).toMatchObject({ ok: false, code: 'daily_limit' });
      const posts = calls().length;
      // The first row used the client's retries; the second was not sent at all.
      expect(posts).toBe(9);
    });
  });
});

describe('update', () => {
  it('PATCHes only the given attributes, by Id', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/lists/L1'), method: 'PATCH' }).reply(200, { data: { type: 'list', id: 'L1' } }, { headers: JSON_API });
    const [out] = await run('update', [row(4, { Id: 'L1', Name: 'Renamed' })], ctx);
    expect(out).toEqual({ ok: true, rowNumber: 4, status: 'updated', id: 'L1' });
    expect(calls()[0].method).toBe('PATCH');
    expect(bodyOf(0)).toEqual({ data: { type: 'list', id: 'L1', attributes: { name: 'Renamed' } } });
  });

  it('a row with nothing to change is unchanged and sends nothing', async () => {
    const { ctx } = setup();
    const [out] = await run('update', [row(1, { Id: 'L1' })], ctx);
    expect(out).toEqual({ ok: true, rowNumber: 1, status: 'unchanged', id: 'L1' });
    expect(calls()).toHaveLength(0);
  });

  it('refuses to clear the name before sending', async () => {
    const { ctx } = setup();
    const [out] = await run('update', [row(1, { Id: 'L1', Name: null })], ctx);
    expect(out).toMatchObject({ ok: false, code: 'invalid_value' });
    expect(calls()).toHaveLength(0);
  });

  it('an unknown id fails the row with Klaviyo\'s not_found', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/lists/NOPE'), method: 'PATCH' }).reply(404, { errors: [{ code: 'not_found', detail: 'A list with id NOPE does not exist.' }] }, { headers: JSON_API });
    const [out] = await run('update', [row(9, { Id: 'NOPE', Name: 'x' })], ctx);
    expect(out).toEqual({ ok: false, rowNumber: 9, code: 'not_found', message: 'A list with id NOPE does not exist.' });
  });

  it('--dry-run reads the list and reports the changed columns, or unchanged', async () => {
    const { ctx, pool } = setup();
    const current = { data: { type: 'list', id: 'L1', attributes: { name: 'VIP', opt_in_process: 'single_opt_in' } } };
    pool.intercept({ path: path('/api/lists/L1'), method: 'GET' }).reply(200, current, { headers: JSON_API }).times(2);
    const h = handler('update');
    const [changed] = await h.preview!([row(1, { Id: 'L1', Name: 'VIP', OptInProcess: 'double_opt_in' })], ctx);
    const [same] = await h.preview!([row(2, { Id: 'L1', Name: 'VIP' })], ctx);
    expect(changed).toEqual({ ok: true, rowNumber: 1, status: 'updated', id: 'L1', extras: { ChangedColumns: 'OptInProcess' } });
    expect(same).toEqual({ ok: true, rowNumber: 2, status: 'unchanged', id: 'L1', extras: { ChangedColumns: '' } });
    expect(calls().every((c) => c.method === 'GET')).toBe(true);
  });
});

describe('delete', () => {
  it('DELETEs by Id', async () => {
    const { ctx, pool } = setup();
    pool.intercept({ path: path('/api/lists/L1'), method: 'DELETE' }).reply(204, '');
    const [out] = await run('delete', [row(1, { Id: 'L1', Name: 'ignored' })], ctx);
    expect(out).toEqual({ ok: true, rowNumber: 1, status: 'deleted', id: 'L1' });
    expect(calls()[0].method).toBe('DELETE');
  });

  it('a row without an Id fails unsent', async () => {
    const { ctx } = setup();
    const [out] = await run('delete', [row(1, { Name: 'x' })], ctx);
    expect(out).toMatchObject({ ok: false, code: 'missing_value' });
    expect(calls()).toHaveLength(0);
  });
});

describe('client: maxRetryAfterMs', () => {
  it('fails at once on a 429 whose Retry-After is longer, with retryAfterMs and the 429 counted', async () => {
    const { client, pool, clock } = setup();
    pool.intercept({ path: path('/api/lists'), method: 'POST' }).reply(429, { errors: [{ code: 'throttled', detail: 'daily' }] }, { headers: { 'retry-after': '7200' } });
    const err = (await client
      .request('create_list', { body: { data: { type: 'list', attributes: { name: 'x' } } }, maxRetryAfterMs: 60_000 })
      .catch((e: unknown) => e)) as KlaviyoApiError;
    expect(err).toBeInstanceOf(KlaviyoApiError);
    expect(err.status).toBe(429);
    expect(err.retryAfterMs).toBe(7_200_000);
    expect(err.code).toBe('throttled');
    expect(calls()).toHaveLength(1);
    expect(clock.sleeps.filter((ms) => ms >= 60_000)).toEqual([]);
    expect(client.stats().rateLimited).toBe(1);
  });

  it('still waits out a Retry-After within the limit', async () => {
    const { client, pool } = setup();
    pool.intercept({ path: path('/api/lists'), method: 'POST' }).reply(429, {}, { headers: { 'retry-after': '5' } });
    pool.intercept({ path: path('/api/lists'), method: 'POST' }).reply(201, { data: { type: 'list', id: 'L' } });
    const res = await client.request('create_list', { body: { data: { type: 'list', attributes: { name: 'x' } } }, maxRetryAfterMs: 60_000 });
    expect(res.status).toBe(201);
    expect(calls()).toHaveLength(2);
  });
});
