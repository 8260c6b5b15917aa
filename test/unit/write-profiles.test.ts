/**
 * Profiles handlers (insert, upsert, update, preview) against a fake Klaviyo behind MockAgent:
 * what is sent (bulk import jobs sized by count and bytes, per-row profile-import for nulls,
 * PATCHes), how jobs are polled, how import errors and refusals are mapped back to rows, and
 * which Id and status each row gets. Time is a FakeClock: polling never sleeps for real.
 */
import { describe, expect, it } from 'vitest';
import { InterruptedError } from '../../src/core/errors.js';
import { Profiles, PROFILE_COLUMNS } from '../../src/objects/catalog/profiles.js';
import { findObject } from '../../src/objects/registry.js';
import { JOB_MAX_PROFILES, JOB_RESENDS, chunkJobs } from '../../src/objects/write/profile-bulk-jobs.js';
import { PROFILE_ATTRIBUTE_PATHS, PROFILE_MAX_BYTES, payloadBytesAtMost, profilePayload } from '../../src/objects/write/profile-payload.js';
import { profileInsert, profileUpdate, profileUpsert } from '../../src/objects/write/profiles.js';
import type { RowFailure, RowOutcome } from '../../src/objects/write/types.js';
import { ResumePlan, RowTable } from '../../src/pipeline/import/resume.js';
import { runImport, type SourceRow } from '../../src/pipeline/import/run.js';
import { FakeKlaviyo, parseFilter, refusal } from '../helpers/fake-klaviyo.js';
import { row } from '../helpers/handlers.js';

let fake: FakeKlaviyo;

function byRow(outcomes: RowOutcome[]): Record<number, RowOutcome> {
  return Object.fromEntries(outcomes.map((o) => [o.rowNumber, o]));
}

function expectOnePerRow(outcomes: RowOutcome[], rows: number) {
  expect(outcomes).toHaveLength(rows);
  expect(new Set(outcomes.map((o) => o.rowNumber)).size).toBe(rows);
}

describe('the catalog', () => {
  it('Profiles offers insert, update and upsert, and operations lists exactly the write handlers', () => {
    const def = findObject('profiles');
    expect([...def.operations].sort()).toEqual(['insert', 'update', 'upsert']);
    expect(Object.keys(def.write ?? {}).sort()).toEqual([...def.operations].sort());
    for (const op of def.operations) expect(def.write![op]!.operation).toBe(op);
  });

  it('the attribute paths the handlers write are exactly the writable catalog columns', () => {
    const writable = Object.fromEntries(PROFILE_COLUMNS.filter((c) => !c.readOnly && c.path && c.name !== 'Id').map((c) => [c.name, c.path]));
    expect(PROFILE_ATTRIBUTE_PATHS).toEqual(writable);
    expect(Profiles.write?.upsert?.acceptedColumns).toEqual(['Id', ...Object.keys(writable)]);
  });
});

describe('profilePayload', () => {
  it('puts columns at their attribute paths, merges Properties with Properties.<name>, and unsets null properties', () => {
    const r = row(1, {
      Id: 'P1',
      Email: 'ann@example.com',
      City: 'Lyon',
      Latitude: 45.76,
      Properties: { tier: 'gold', size: 'M' },
      'Properties.size': 'L',
      'Properties.old': null,
      LastName: null,
    });
    expect(profilePayload(r, { dropNulls: false, withId: true })).toEqual({
      type: 'profile',
      id: 'P1',
      attributes: { email: 'ann@example.com', location: { city: 'Lyon', latitude: 45.76 }, properties: { tier: 'gold', size: 'L' }, last_name: null },
      meta: { patch_properties: { unset: ['old'] } },
    });
    expect(profilePayload(r, { dropNulls: true, withId: false })).toEqual({
      type: 'profile',
      attributes: { email: 'ann@example.com', location: { city: 'Lyon', latitude: 45.76 }, properties: { tier: 'gold', size: 'L' } },
    });
  });
});

describe('validateRow', () => {
  it('needs an identifier, refuses Id on insert, non-object Properties and profiles above 100 KB', () => {
    const v = (op: 'insert' | 'upsert' | 'update', values: Record<string, unknown>) =>
      (op === 'insert' ? profileInsert : op === 'upsert' ? profileUpsert : profileUpdate).validateRow!(row(7, values), {});
    expect(v('upsert', { FirstName: 'Ann' })).toMatchObject({ ok: false, rowNumber: 7, code: 'missing_value' });
    expect(v('upsert', { Email: null, FirstName: 'Ann' })).toMatchObject({ code: 'missing_value' });
    expect(v('upsert', { Id: 'P1' })).toBeNull();
    expect(v('insert', { Id: 'P1', Email: 'a@example.com' })).toMatchObject({ code: 'invalid_value', message: expect.stringContaining('--op upsert') });
    expect(v('insert', { ExternalId: 'X1' })).toBeNull();
    expect(v('update', { Email: 'a@example.com', Properties: ['x'] })).toMatchObject({ code: 'invalid_value' });
    expect(v('upsert', { Email: 'a@example.com', Properties: { blob: 'x'.repeat(101 * 1024) } })).toMatchObject({
      code: 'too_large',
      message: expect.stringContaining('100 KB'),
    });
    // Without an object value the size is first bounded from the values: the bound must not let
    // a large profile through, nor refuse one just under the limit.
    expect(v('upsert', { Email: 'a@example.com', 'Properties.blob': 'x'.repeat(101 * 1024) })).toMatchObject({ code: 'too_large' });
    expect(v('upsert', { Email: 'a@example.com', Title: 'é'.repeat(60 * 1024) })).toMatchObject({ code: 'too_large' });
    expect(v('upsert', { Email: 'a@example.com', 'Properties.blob': 'x'.repeat(99 * 1024) })).toBeNull();
  });

  it('bounds the payload size from above without building it', () => {
    const exact = (values: Record<string, unknown>) =>
      Buffer.byteLength(JSON.stringify(profilePayload(row(1, values), { dropNulls: false, withId: true })));
    const cases: Record<string, unknown>[] = [
      { Email: 'ann@example.com', FirstName: 'Ann', City: 'Lyon', PhoneNumber: '+15005550006', 'Properties.plan': 'pro' },
      { Id: 'P1', Latitude: -2.2250738585072014e-308, Longitude: 1e21, 'Properties.vip': true, LastName: null, 'Properties.old': null },
      { Email: 'a@example.com', FirstName: '\u0000\u001f"\\\n', LastName: '😀\ud800€', ['Properties.' + '\u0001'.repeat(40)]: 'x' },
      { PhoneNumber: '+15005550006', Address1: '\u001f'.repeat(1000), Zip: '😀'.repeat(1000) },
    ];
    for (const values of cases) expect(payloadBytesAtMost(row(1, values))).toBeGreaterThanOrEqual(exact(values));
    expect(payloadBytesAtMost(row(1, { Email: 'a@example.com', Properties: { a: 1 } }))).toBe(Infinity);
    expect(payloadBytesAtMost(row(1, { Email: 'a@example.com', 'Properties.x': [1] }))).toBe(Infinity);
    expect(payloadBytesAtMost(row(1, cases[0]))).toBeLessThan(PROFILE_MAX_BYTES);
  });
});

describe('upsert through bulk import jobs', () => {
  it('posts one job, polls it until complete, then gives each row its Id: created or updated by the profile creation time', async () => {
    fake = new FakeKlaviyo();
    fake.addProfile({ id: 'OLD1', email: 'old@example.com', first_name: 'Old' });
    const rows = [
      row(1, { Email: 'old@example.com', FirstName: 'Olga', City: 'Oslo' }),
      row(2, { Email: 'New@Example.com', FirstName: 'Nia', Properties: { tier: 'gold' } }),
      row(3, { PhoneNumber: '+15005550006', LastName: 'Phone' }),
    ];
    const ctx = fake.ctx({ listId: 'LIST1' });
    const out = await profileUpsert.processBatch(rows, ctx);

    expectOnePerRow(out, 3);
    const posts = fake.callsTo('POST', '/api/profile-bulk-import-jobs');
    expect(posts).toHaveLength(1);
    expect(posts[0].body).toEqual({
      data: {
        type: 'profile-bulk-import-job',
        attributes: {
          profiles: {
            data: [
              { type: 'profile', attributes: { email: 'old@example.com', first_name: 'Olga', location: { city: 'Oslo' } } },
              { type: 'profile', attributes: { email: 'New@Example.com', first_name: 'Nia', properties: { tier: 'gold' } } },
              { type: 'profile', attributes: { phone_number: '+15005550006', last_name: 'Phone' } },
            ],
          },
        },
        relationships: { lists: { data: [{ type: 'list', id: 'LIST1' }] } },
      },
    });
    // queued -> processing -> complete: two GETs, on the clock (no real sleep).
    expect(fake.callsTo('GET', /^\/api\/profile-bulk-import-jobs\/JOB\d+$/)).toHaveLength(2);
    expect(fake.clock.sleeps.length).toBeGreaterThanOrEqual(2);
    // No import errors reported (failed_count 0): the errors endpoint is not read.
    expect(fake.callsTo('GET', /import-errors$/)).toHaveLength(0);
    // The writes: the job only. The ids come from lookups by identifier, 100 a request.
    expect(fake.writes()).toHaveLength(1);
    const lookups = fake.callsTo('GET', '/api/profiles');
    expect(lookups.map((c) => parseFilter(c.query.filter).field).sort()).toEqual(['email', 'phone_number']);
    expect(lookups[0].query['fields[profile]']).toBe('email,phone_number,external_id,created');

    const o = byRow(out);
    expect(o[1]).toEqual({ ok: true, rowNumber: 1, status: 'updated', id: 'OLD1' });
    expect(o[2]).toMatchObject({ ok: true, status: 'created', id: expect.stringMatching(/^P\d+$/) });
    expect(o[3]).toMatchObject({ ok: true, status: 'created', id: expect.stringMatching(/^P\d+$/) });
    expect((o[2] as { id: string }).id).not.toBe((o[3] as { id: string }).id);
  });

  it('a row that gives the Id is updated and keeps it', async () => {
    fake = new FakeKlaviyo();
    fake.addProfile({ id: 'KNOWN', email: 'k@example.com' });
    const out = await profileUpsert.processBatch([row(1, { Id: 'KNOWN', FirstName: 'Kim' })], fake.ctx());
    expect(out).toEqual([{ ok: true, rowNumber: 1, status: 'updated', id: 'KNOWN' }]);
    expect(fake.callsTo('POST', '/api/profile-bulk-import-jobs')[0].body.data.attributes.profiles.data[0]).toEqual({
      type: 'profile',
      id: 'KNOWN',
      attributes: { first_name: 'Kim' },
    });
    expect(parseFilter(fake.callsTo('GET', '/api/profiles')[0].query.filter)).toEqual({ field: 'id', values: ['KNOWN'] });
  });

  it('maps import errors back to rows by the pointer index, or by the identifiers of the original payload', async () => {
    fake = new FakeKlaviyo();
    fake.nextJobErrors = [
      { index: 1, code: 'invalid', detail: 'Invalid email address' },
      { index: 3, code: 'invalid_phone', detail: 'Phone number is not valid', pointer: null, payload: { phone_number: '+15005550999', first_name: 'D' } },
    ];
    const rows = [
      row(10, { Email: 'a@example.com' }),
      row(11, { Email: 'b@bad' }),
      row(12, { Email: 'c@example.com' }),
      row(13, { PhoneNumber: '+15005550999', FirstName: 'D' }),
    ];
    const out = byRow(await profileUpsert.processBatch(rows, fake.ctx()));
    expect(fake.callsTo('GET', /import-errors$/)).toHaveLength(1);
    expect(out[11]).toEqual({ ok: false, rowNumber: 11, code: 'invalid', message: 'Invalid email address (/data/attributes/profiles/data/1/attributes/email)' });
    expect(out[13]).toEqual({ ok: false, rowNumber: 13, code: 'invalid_phone', message: 'Phone number is not valid' });
    expect(out[10]).toMatchObject({ ok: true, status: 'created' });
    expect(out[12]).toMatchObject({ ok: true, status: 'created' });
  });

  it('an import error no row can be tied to fails the rows whose profile is missing afterwards, with its code', async () => {
    fake = new FakeKlaviyo();
    fake.nextJobErrors = [{ index: 1, code: 'invalid', detail: 'Something about a profile', pointer: '/data/attributes/profiles', payload: null }];
    const out = byRow(await profileUpsert.processBatch([row(1, { Email: 'a@example.com' }), row(2, { Email: 'b@example.com' })], fake.ctx()));
    expect(out[1]).toMatchObject({ ok: true, status: 'created' });
    expect(out[2]).toMatchObject({ ok: false, code: 'invalid', message: expect.stringContaining('Something about a profile') });
  });

  it('a job refused for one pointed row: that row fails with Klaviyo\'s detail, the rest is sent again', async () => {
    fake = new FakeKlaviyo();
    let refused = false;
    fake.override = (call) => {
      if (call.method === 'POST' && call.path === '/api/profile-bulk-import-jobs' && !refused) {
        refused = true;
        return refusal('Invalid phone number format', '/data/attributes/profiles/data/1/attributes/phone_number');
      }
      return undefined;
    };
    const rows = [row(1, { Email: 'a@example.com' }), row(2, { Email: 'b@example.com', PhoneNumber: '+1999' }), row(3, { Email: 'c@example.com' })];
    const out = byRow(await profileUpsert.processBatch(rows, fake.ctx()));
    const posts = fake.callsTo('POST', '/api/profile-bulk-import-jobs');
    expect(posts).toHaveLength(2);
    expect(posts[1].body.data.attributes.profiles.data.map((p: any) => p.attributes.email)).toEqual(['a@example.com', 'c@example.com']);
    expect(out[2]).toEqual({ ok: false, rowNumber: 2, code: 'invalid', message: 'Invalid phone number format (/data/attributes/profiles/data/1/attributes/phone_number)' });
    expect(out[1]).toMatchObject({ ok: true });
    expect(out[3]).toMatchObject({ ok: true });
  });

  it('a refusal that points at no row is bisected down to the bad row', async () => {
    fake = new FakeKlaviyo();
    fake.override = (call) => {
      if (call.method === 'POST' && call.path === '/api/profile-bulk-import-jobs') {
        const emails = call.body.data.attributes.profiles.data.map((p: any) => p.attributes.email);
        if (emails.includes('bad@example.com')) return refusal('The payload is invalid');
      }
      return undefined;
    };
    const rows = Array.from({ length: 8 }, (_, i) => row(i + 1, { Email: i === 5 ? 'bad@example.com' : `p${i}@example.com` }));
    const out = byRow(await profileUpsert.processBatch(rows, fake.ctx()));
    expect(out[6]).toMatchObject({ ok: false, code: 'invalid', message: 'The payload is invalid' });
    for (const n of [1, 2, 3, 4, 5, 7, 8]) expect(out[n]).toMatchObject({ ok: true, status: 'created' });
    // 1 + log2(8) levels of two halves at most.
    expect(fake.callsTo('POST', '/api/profile-bulk-import-jobs').length).toBeLessThanOrEqual(7);
  });

  it('a refusal of the request itself (every half refused alike) fails every row after three requests, not one per row', async () => {
    fake = new FakeKlaviyo();
    fake.override = (call) =>
      call.method === 'POST' && call.path === '/api/profile-bulk-import-jobs' ? refusal('List NOPE does not exist', '/data/relationships/lists', 'not_found') : undefined;
    const rows = Array.from({ length: 40 }, (_, i) => row(i + 1, { Email: `p${i}@example.com` }));
    const out = await profileUpsert.processBatch(rows, fake.ctx({ listId: 'NOPE' }));
    expectOnePerRow(out, 40);
    for (const o of out) expect(o).toMatchObject({ ok: false, code: 'not_found', message: expect.stringContaining('List NOPE does not exist') });
    expect(fake.callsTo('POST', '/api/profile-bulk-import-jobs')).toHaveLength(3);
  });

  it('cuts a batch into jobs of at most 5 MB', async () => {
    fake = new FakeKlaviyo();
    const blob = 'x'.repeat(90 * 1024);
    const rows = Array.from({ length: 60 }, (_, i) => row(i + 1, { Email: `p${i}@example.com`, Properties: { blob } }));
    const out = await profileUpsert.processBatch(rows, fake.ctx());
    expectOnePerRow(out, 60);
    expect(out.every((o) => o.ok)).toBe(true);
    const posts = fake.callsTo('POST', '/api/profile-bulk-import-jobs');
    expect(posts).toHaveLength(2);
    for (const p of posts) expect(Buffer.byteLength(JSON.stringify(p.body))).toBeLessThanOrEqual(5_000_000);
    expect(posts.map((p) => p.body.data.attributes.profiles.data.length).reduce((a, b) => a + b)).toBe(60);
  });

  it('chunkJobs caps jobs at 10,000 profiles and at the byte limit', () => {
    const items = Array.from({ length: 25_001 }, () => ({ bytes: 10 }));
    expect(chunkJobs(items).map((c) => c.length)).toEqual([JOB_MAX_PROFILES, JOB_MAX_PROFILES, 5_001]);
    expect(chunkJobs([{ bytes: 60 }, { bytes: 60 }, { bytes: 60 }], 10, 130).map((c) => c.length)).toEqual([2, 1]);
  });

  it('rows that clear a field go one by one through POST /api/profile-import with their nulls (bulk import ignores nulls)', async () => {
    fake = new FakeKlaviyo();
    fake.addProfile({ id: 'OLD1', email: 'old@example.com', last_name: 'Smith', properties: { legacy: 1 } });
    fake.addList('L9');
    const rows = [
      row(1, { Email: 'old@example.com', LastName: null, 'Properties.legacy': null }),
      row(2, { Email: 'new@example.com', City: null }),
      row(3, { Email: 'bulk@example.com', FirstName: 'Bo' }),
    ];
    const out = byRow(await profileUpsert.processBatch(rows, fake.ctx({ listId: 'L9' })));
    const imports = fake.callsTo('POST', '/api/profile-import');
    expect(imports.map((c) => c.body)).toEqual([
      { data: { type: 'profile', attributes: { email: 'old@example.com', last_name: null }, meta: { patch_properties: { unset: ['legacy'] } } } },
      { data: { type: 'profile', attributes: { email: 'new@example.com', location: { city: null } } } },
    ]);
    expect(fake.callsTo('POST', '/api/profile-bulk-import-jobs')[0].body.data.attributes.profiles.data).toHaveLength(1);
    expect(out[1]).toEqual({ ok: true, rowNumber: 1, status: 'updated', id: 'OLD1' });
    expect(out[2]).toMatchObject({ ok: true, status: 'created' });
    expect(out[3]).toMatchObject({ ok: true, status: 'created' });
    // --list: the rows written one by one are added to the list in one call.
    const adds = fake.callsTo('POST', '/api/lists/L9/relationships/profiles');
    expect(adds).toHaveLength(1);
    expect(adds[0].body.data.map((d: any) => d.id).sort()).toEqual([(out[1] as any).id, (out[2] as any).id].sort());
  });

  it('a job that never completes: its rows fail unknown_outcome naming the job, after a bounded wait', async () => {
    fake = new FakeKlaviyo();
    fake.nextJobEnds = ['processing']; // it starts processing, and stays there
    const out = await profileUpsert.processBatch([row(1, { Email: 'a@example.com' })], fake.ctx());
    expect(out).toEqual([{ ok: false, rowNumber: 1, code: 'unknown_outcome', message: expect.stringMatching(/still processing after 1800 s.*JOB\d+/) }]);
    // Polls grow to one every 5 s: a 30-minute wait is a few hundred GETs, not thousands.
    const polls = fake.callsTo('GET', /^\/api\/profile-bulk-import-jobs\/JOB\d+$/).length;
    expect(polls).toBeGreaterThan(300);
    expect(polls).toBeLessThan(400);
  });

  it('Ctrl-C while waiting for a job throws InterruptedError (the pipeline records the batch)', async () => {
    fake = new FakeKlaviyo();
    fake.jobPolls = Number.POSITIVE_INFINITY;
    const abort = new AbortController();
    let gets = 0;
    fake.override = (call) => {
      if (call.method === 'GET' && /JOB/.test(call.path) && ++gets === 3) abort.abort();
      return undefined;
    };
    await expect(profileUpsert.processBatch([row(1, { Email: 'a@example.com' })], fake.ctx({}, abort.signal))).rejects.toBeInstanceOf(InterruptedError);
  });

  it('a refused key is not a row error: it is thrown', async () => {
    fake = new FakeKlaviyo();
    fake.override = () => ({ status: 401, body: { errors: [{ id: 'a', code: 'not_authenticated', title: 'No', detail: 'Bad key' }] } });
    await expect(profileUpsert.processBatch([row(1, { Email: 'a@example.com' })], fake.ctx())).rejects.toMatchObject({ status: 401 });
  });
});

describe('jobs that stop part-way (cancelled, failed)', () => {
  const emails = (call: { body: any }) => call.body.data.attributes.profiles.data.map((p: any) => p.attributes.email);
  const people = (n: number) => Array.from({ length: n }, (_, i) => row(i + 1, { Email: `p${i + 1}@example.com`, FirstName: `F${i + 1}` }));

  it('the rows a cancelled job did not import are sent again in a new job, and succeed', async () => {
    fake = new FakeKlaviyo();
    fake.nextJobEnds = ['cancelled'];
    const ctx = fake.ctx();
    const out = await profileUpsert.processBatch(people(6), ctx);
    expectOnePerRow(out, 6);
    for (const o of out) expect(o).toMatchObject({ ok: true, status: 'created' });
    const posts = fake.callsTo('POST', '/api/profile-bulk-import-jobs');
    expect(posts).toHaveLength(2);
    // The first job took its first half; only the other half is sent again, with its attributes.
    expect(emails(posts[1])).toEqual(['p4@example.com', 'p5@example.com', 'p6@example.com']);
    expect(posts[1].body.data.attributes.profiles.data[0]).toEqual({ type: 'profile', attributes: { email: 'p4@example.com', first_name: 'F4' } });
    expect(fake.profiles.map((p) => p.attributes.email).sort()).toEqual(people(6).map((r) => r.values.Email).sort());
    expect(fake.jobs.get('JOB1')!.status).toBe('cancelled');
    expect(ctx.lines.some((l) => /job JOB1 ended cancelled without importing 3 of its profiles: sending them again in a new job \(1 of 2\)/.test(l))).toBe(true);
  });

  it('a failed job is treated alike: its missing rows go again', async () => {
    fake = new FakeKlaviyo();
    fake.nextJobEnds = ['failed'];
    const out = await profileInsert.processBatch(people(4), fake.ctx());
    expectOnePerRow(out, 4);
    for (const o of out) expect(o).toMatchObject({ ok: true, status: 'created' });
    expect(fake.callsTo('POST', '/api/profile-bulk-import-jobs').map(emails)).toEqual([
      ['p1@example.com', 'p2@example.com', 'p3@example.com', 'p4@example.com'],
      ['p3@example.com', 'p4@example.com'],
    ]);
    expect(fake.profiles).toHaveLength(4);
  });

  it(`a row in jobs cancelled ${1 + JOB_RESENDS} times fails job_cancelled, naming the jobs and saying to re-run with the error log; the others succeed`, async () => {
    fake = new FakeKlaviyo();
    fake.nextJobEnds = ['cancelled', 'cancelled', 'cancelled'];
    const out = byRow(await profileUpsert.processBatch(people(8), fake.ctx()));
    expectOnePerRow(Object.values(out), 8);
    const posts = fake.callsTo('POST', '/api/profile-bulk-import-jobs');
    // 8 sent, 4 taken; 4 sent, 2 taken; 2 sent, 1 taken: three jobs, then no more.
    expect(posts.map((p) => emails(p).length)).toEqual([8, 4, 2]);
    for (const n of [1, 2, 3, 4, 5, 6, 7]) expect(out[n], `row ${n}`).toMatchObject({ ok: true, status: 'created' });
    const jobIds = [...fake.jobs.keys()];
    expect(jobIds).toHaveLength(3);
    expect(out[8]).toMatchObject({ ok: false, code: 'job_cancelled' });
    const message = (out[8] as RowFailure).message;
    for (const id of jobIds) expect(message).toContain(`${id} (cancelled)`);
    expect(message).toMatch(/sent it 3 times/);
    expect(message).toMatch(/re-running klv import with the error log as input/);
    expect(fake.profiles.some((p) => p.attributes.email === 'p8@example.com')).toBe(false);
  });

  it('rows with import errors are not sent again, neither from the cancelled job nor from the new one', async () => {
    fake = new FakeKlaviyo();
    fake.nextJobEnds = ['cancelled'];
    // Job 1 (8 rows, cancelled after 4): row 2 has an import error. Job 2 (rows 5-8): row 7 has one.
    fake.nextJobErrors = [{ index: 1, code: 'invalid', detail: 'Invalid email for this account' }];
    let posts = 0;
    fake.override = (call) => {
      if (call.method === 'POST' && call.path === '/api/profile-bulk-import-jobs' && ++posts === 2) {
        fake.nextJobErrors = [{ index: 2, code: 'duplicate_profile', detail: 'Two profiles have these identifiers' }];
      }
      return undefined;
    };
    const out = byRow(await profileUpsert.processBatch(people(8), fake.ctx()));
    expectOnePerRow(Object.values(out), 8);
    expect(fake.callsTo('POST', '/api/profile-bulk-import-jobs').map(emails)).toEqual([
      people(8).map((r) => r.values.Email),
      ['p5@example.com', 'p6@example.com', 'p7@example.com', 'p8@example.com'],
    ]);
    expect(out[2]).toMatchObject({ ok: false, code: 'invalid', message: expect.stringContaining('Invalid email for this account') });
    expect(out[7]).toMatchObject({ ok: false, code: 'duplicate_profile', message: expect.stringContaining('Two profiles have these identifiers') });
    for (const n of [1, 3, 4, 5, 6, 8]) expect(out[n], `row ${n}`).toMatchObject({ ok: true, status: 'created' });
  });

  it('the pipeline sees one batch: journaled once before the first job, nothing logged until the last job ends, then each row once', async () => {
    fake = new FakeKlaviyo();
    fake.nextJobEnds = ['cancelled', 'cancelled'];
    const journal: Array<Array<{ rowNumber: number; hash: number }>> = [];
    const logged: number[] = [];
    /** What the journal and the logs held when the third job was posted: the state a SIGKILL there leaves. */
    let atThirdJob: { journaled: number[]; logged: number[] } | undefined;
    let posts = 0;
    fake.override = (call) => {
      if (call.method === 'POST' && call.path === '/api/profile-bulk-import-jobs' && ++posts === 3) {
        atThirdJob = { journaled: journal.flat().map((r) => r.rowNumber), logged: [...logged] };
      }
      return undefined;
    };
    const ctx = fake.ctx();
    const sources: SourceRow[] = people(8).map((r) => {
      const email = String(r.values.Email);
      return { rowNumber: r.rowNumber, line: r.rowNumber + 1, cells: { Email: email }, values: [email] };
    });
    const result = await runImport({
      rows: (async function* () {
        yield* sources;
      })(),
      mapRow: (cells, rowNumber) => ({ ok: true, row: row(rowNumber, { Email: cells.Email }) }),
      process: (rows) => profileUpsert.processBatch(rows, ctx),
      handlerName: 'Profiles upsert',
      batchSize: 8,
      concurrency: 1,
      idempotent: profileUpsert.idempotent,
      logs: { add: (_v, o) => void logged.push(o.rowNumber), maybeFlush: async () => {}, commit: async () => {}, committedBytes: [0, 0] },
      journal: { sent: async (rows) => void journal.push([...rows]) },
      hashIndices: [0],
      signal: new AbortController().signal,
    });
    expect(result.counts).toMatchObject({ read: 8, succeeded: 8, failed: 0, notProcessed: 0 });
    expect(posts).toBe(3);
    // Killed at the third job, --resume would find all 8 rows sent and none logged: it sends them
    // again (Profiles upsert is idempotent), so none is lost and none logged twice.
    expect(atThirdJob).toEqual({ journaled: [1, 2, 3, 4, 5, 6, 7, 8], logged: [] });
    const table = new RowTable();
    for (const r of journal.flat()) table.markSent(r.rowNumber, r.hash);
    const plan = new ResumePlan({ table, idempotent: profileUpsert.idempotent, hashIndices: [0], source: 'in.csv', journal: 'in.errors.csv.journal' });
    for (const s of sources) expect(plan.classify(s.rowNumber, s.values)).toBe('resend');
    // Completed: one journal entry for the batch, each row logged once.
    expect(journal).toHaveLength(1);
    expect([...logged].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('insert', () => {
  it('refuses, unsent, rows whose identifiers already belong to a profile or repeat an earlier row; creates the others', async () => {
    fake = new FakeKlaviyo();
    fake.addProfile({ id: 'EXIST', email: 'taken@example.com', external_id: 'X-1' });
    const rows = [
      row(1, { Email: 'TAKEN@example.com', FirstName: 'Dup' }),
      row(2, { Email: 'fresh@example.com', ExternalId: 'X-2' }),
      row(3, { ExternalId: 'X-1' }),
      row(4, { Email: 'Fresh@example.com' }),
      row(5, { PhoneNumber: '+15005550006', LastName: null }),
    ];
    const out = byRow(await profileInsert.processBatch(rows, fake.ctx()));
    expectOnePerRow(Object.values(out), 5);
    expect(out[1]).toMatchObject({ ok: false, code: 'duplicate_profile', message: expect.stringContaining('EXIST') });
    expect(out[3]).toMatchObject({ ok: false, code: 'duplicate_profile', message: expect.stringContaining("ExternalId 'X-1'") });
    expect(out[4]).toMatchObject({ ok: false, code: 'duplicate_profile', message: expect.stringContaining('Row 2') });
    expect(out[2]).toMatchObject({ ok: true, status: 'created' });
    expect(out[5]).toMatchObject({ ok: true, status: 'created' });
    const sent = fake.callsTo('POST', '/api/profile-bulk-import-jobs')[0].body.data.attributes.profiles.data;
    // Nulls mean nothing for a new profile: left out. The refused rows were never sent.
    expect(sent).toEqual([
      { type: 'profile', attributes: { email: 'fresh@example.com', external_id: 'X-2' } },
      { type: 'profile', attributes: { phone_number: '+15005550006' } },
    ]);
  });

  it('is declared idempotent: sent again, it refuses what the first send created instead of duplicating it', async () => {
    fake = new FakeKlaviyo();
    const rows = [row(1, { Email: 'once@example.com' })];
    const first = await profileInsert.processBatch(rows, fake.ctx());
    const again = await profileInsert.processBatch(rows, fake.ctx());
    expect(first[0]).toMatchObject({ ok: true, status: 'created' });
    expect(again[0]).toMatchObject({ ok: false, code: 'duplicate_profile', message: expect.stringContaining((first[0] as any).id) });
    expect(fake.profiles).toHaveLength(1);
    expect(profileInsert.idempotent).toBe(true);
  });
});

describe('update', () => {
  it('by Id or by an identifier looked up in bulk, one PATCH per row; nulls clear; the lookup key is not sent back', async () => {
    fake = new FakeKlaviyo();
    fake.addProfile({ id: 'P1', email: 'ann@example.com', first_name: 'Ann' });
    fake.addProfile({ id: 'P2', email: 'bob@example.com', phone_number: '+15005550001' });
    const rows = [
      row(1, { Id: 'P1', FirstName: 'Anne', Title: null }),
      row(2, { Email: 'BOB@example.com', City: 'Paris', 'Properties.vip': true }),
      row(3, { Email: 'nobody@example.com', FirstName: 'X' }),
      row(4, { Id: 'P404', FirstName: 'Ghost' }),
      row(5, { PhoneNumber: '+15005550001' }),
    ];
    const out = byRow(await profileUpdate.processBatch(rows, fake.ctx()));
    expect(out[1]).toEqual({ ok: true, rowNumber: 1, status: 'updated', id: 'P1' });
    expect(out[2]).toEqual({ ok: true, rowNumber: 2, status: 'updated', id: 'P2' });
    expect(out[3]).toMatchObject({ ok: false, code: 'not_found', message: expect.stringContaining("Email 'nobody@example.com'") });
    expect(out[4]).toMatchObject({ ok: false, code: 'not_found', message: expect.stringContaining('P404') });
    // Nothing but the key: nothing to change, nothing sent.
    expect(out[5]).toEqual({ ok: true, rowNumber: 5, status: 'unchanged', id: 'P2' });
    const patches = fake.callsTo('PATCH', /^\/api\/profiles\//);
    expect(patches.map((p) => [p.path, p.body])).toEqual(
      expect.arrayContaining([
        ['/api/profiles/P1', { data: { type: 'profile', id: 'P1', attributes: { first_name: 'Anne', title: null } } }],
        ['/api/profiles/P2', { data: { type: 'profile', id: 'P2', attributes: { location: { city: 'Paris' }, properties: { vip: true } } } }],
      ]),
    );
    expect(patches).toHaveLength(3);
    // One lookup request per identifier field, whatever the number of rows.
    expect(fake.callsTo('GET', '/api/profiles')).toHaveLength(2);
  });

  it('two profiles found for one identifier: the row fails ambiguous, unsent', async () => {
    fake = new FakeKlaviyo();
    fake.addProfile({ id: 'A1', external_id: 'SAME' });
    fake.addProfile({ id: 'A2', external_id: 'SAME' });
    const out = await profileUpdate.processBatch([row(1, { ExternalId: 'SAME', FirstName: 'Z' })], fake.ctx());
    expect(out).toEqual([{ ok: false, rowNumber: 1, code: 'ambiguous', message: expect.stringContaining('A1, A2') }]);
    expect(fake.writes()).toHaveLength(0);
  });

  it('a 409 duplicate_profile from the PATCH is the row\'s failure, with the existing profile named', async () => {
    fake = new FakeKlaviyo();
    fake.addProfile({ id: 'P1', email: 'a@example.com' });
    fake.override = (call) =>
      call.method === 'PATCH'
        ? {
            status: 409,
            body: {
              errors: [
                {
                  id: 'd',
                  status: 409,
                  code: 'duplicate_profile',
                  title: 'Conflict.',
                  detail: 'A profile already exists with one of these identifiers.',
                  source: { pointer: '/data/attributes' },
                  meta: { duplicate_profile_id: 'P7' },
                },
              ],
            },
          }
        : undefined;
    const out = await profileUpdate.processBatch([row(1, { Id: 'P1', Email: 'b@example.com' })], fake.ctx());
    expect(out).toEqual([
      { ok: false, rowNumber: 1, code: 'duplicate_profile', message: 'A profile already exists with one of these identifiers. (/data/attributes) (existing profile P7)' },
    ]);
  });
});

describe('rate limits (one rule with the other handlers)', () => {
  const throttled = (headers?: Record<string, string>) => ({
    status: 429,
    body: { errors: [{ id: 't', status: 429, code: 'throttled', title: 'Request was throttled.', detail: 'Request was throttled.' }] },
    headers,
  });

  it("a 429 left after the client's retries fails that row (Klaviyo did not process it); the rows written keep their outcome", async () => {
    fake = new FakeKlaviyo();
    fake.addProfile({ id: 'P1', email: 'a@example.com' });
    fake.addProfile({ id: 'P2', email: 'b@example.com' });
    fake.override = (call) => (call.method === 'PATCH' && call.path === '/api/profiles/P2' ? throttled() : undefined);
    const out = byRow(await profileUpdate.processBatch([row(1, { Id: 'P1', FirstName: 'A' }), row(2, { Id: 'P2', FirstName: 'B' })], fake.ctx()));
    expect(out[1]).toEqual({ ok: true, rowNumber: 1, status: 'updated', id: 'P1' });
    expect(out[2]).toEqual({ ok: false, rowNumber: 2, code: 'throttled', message: 'Request was throttled.' });
  });

  it('the same for a row that clears a field (POST /api/profile-import) and for adding to a list', async () => {
    fake = new FakeKlaviyo();
    fake.override = (call) => (call.path === '/api/profile-import' && call.body.data.attributes.email === 'b@example.com' ? throttled() : undefined);
    const cleared = await profileUpsert.processBatch([row(1, { Email: 'a@example.com', Title: null }), row(2, { Email: 'b@example.com', Title: null })], fake.ctx());
    expect(byRow(cleared)[1]).toMatchObject({ ok: true, status: 'created' });
    expect(byRow(cleared)[2]).toEqual({ ok: false, rowNumber: 2, code: 'throttled', message: 'Request was throttled.' });

    fake.override = (call) => (call.path === '/api/lists/L1/relationships/profiles' ? throttled() : undefined);
    const listed = await profileUpsert.processBatch([row(3, { Email: 'c@example.com', Title: null })], fake.ctx({ listId: 'L1' }));
    expect(listed).toEqual([{ ok: false, rowNumber: 3, code: 'throttled', message: expect.stringMatching(/^The profile P\d+ was created, but adding it to list L1 failed: Request was throttled\.$/) }]);
  });

  it('a Retry-After longer than klv waits stops the run (KlaviyoResponseError), as for every handler', async () => {
    fake = new FakeKlaviyo();
    fake.addProfile({ id: 'P1', email: 'a@example.com' });
    fake.override = (call) => (call.method === 'PATCH' ? throttled({ 'retry-after': '3600' }) : undefined);
    await expect(profileUpdate.processBatch([row(1, { Id: 'P1', FirstName: 'A' })], fake.ctx())).rejects.toMatchObject({
      name: 'KlaviyoResponseError',
      kind: 'retry-after-too-long',
    });
  });
});

describe('preview (--dry-run)', () => {
  it('upsert: created, updated with the changed columns, or unchanged; reads only', async () => {
    fake = new FakeKlaviyo();
    fake.addProfile({ id: 'P1', email: 'ann@example.com', first_name: 'Ann', location: { city: 'Lyon', latitude: '45.7' }, properties: { tier: 'gold' } });
    const rows = [
      row(1, { Email: 'ann@example.com', FirstName: 'Ann', City: 'Lyon', Latitude: 45.7, 'Properties.tier': 'gold' }),
      row(2, { Email: 'ANN@example.com', FirstName: 'Anne', City: 'Lyon', Properties: { tier: 'silver' }, Title: null }),
      row(3, { Email: 'new@example.com', FirstName: 'New' }),
    ];
    const out = byRow(await profileUpsert.preview!(rows, fake.ctx()));
    expect(out[1]).toEqual({ ok: true, rowNumber: 1, status: 'unchanged', id: 'P1', extras: { ChangedColumns: '' } });
    expect(out[2]).toEqual({ ok: true, rowNumber: 2, status: 'updated', id: 'P1', extras: { ChangedColumns: 'FirstName;Properties' } });
    expect(out[3]).toMatchObject({ ok: true, status: 'created' });
    expect(fake.writes()).toHaveLength(0);
  });

  it('update: a profile that does not exist is a failure, not a creation', async () => {
    fake = new FakeKlaviyo();
    fake.addProfile({ id: 'P1', email: 'ann@example.com', title: 'Boss' });
    const out = byRow(await profileUpdate.preview!([row(1, { Email: 'x@example.com', FirstName: 'X' }), row(2, { Id: 'P1', Title: null })], fake.ctx()));
    expect(out[1]).toMatchObject({ ok: false, code: 'not_found' });
    expect(out[2]).toEqual({ ok: true, rowNumber: 2, status: 'updated', id: 'P1', extras: { ChangedColumns: 'Title' } });
    expect(fake.writes()).toHaveLength(0);
  });
});

describe('created or updated', () => {
  it("compares the profile's created time with the job's to the second, reading microseconds and zoneless times as UTC", async () => {
    fake = new FakeKlaviyo();
    fake.addProfile({ id: 'SAME', email: 'same@example.com', created: '2026-01-01T12:00:00.100000' });
    fake.addProfile({ id: 'BEFORE', email: 'before@example.com', created: '2026-01-01T13:59:59.999999+02:00' });
    fake.override = (call) => {
      if (!/^\/api\/profile-bulk-import-jobs(\/JOB\d+)?$/.test(call.path)) return undefined;
      const reply = fake.handle(call) as { status: number; body: { data: { attributes: Record<string, unknown> } } };
      reply.body.data.attributes.created_at = '2026-01-01T12:00:00.900000';
      return reply;
    };
    const out = byRow(await profileUpsert.processBatch([row(1, { Email: 'same@example.com', FirstName: 'S' }), row(2, { Email: 'before@example.com', FirstName: 'B' })], fake.ctx()));
    // Created in the job's second (by the job, or by someone else: the documented inexactness).
    expect(out[1]).toEqual({ ok: true, rowNumber: 1, status: 'created', id: 'SAME' });
    expect(out[2]).toEqual({ ok: true, rowNumber: 2, status: 'updated', id: 'BEFORE' });
  });
});
