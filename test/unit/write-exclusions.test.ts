/**
 * PeopleExclusions insert (suppress) and delete (unsuppress) against a fake Klaviyo: current
 * suppressions read first (already suppressed: unchanged; suppressed for a reason Klaviyo cannot
 * lift: refused with that reason WITHOUT being sent), jobs of at most 100 addresses polled until
 * complete, and a row succeeding only when Klaviyo's data shows the change afterwards. Every
 * request is checked against Klaviyo's OpenAPI spec.
 */
import { describe, expect, it } from 'vitest';
import { PeopleExclusions } from '../../src/objects/catalog/people-exclusions.js';
import type { OperationHandler } from '../../src/objects/write/types.js';
import { FakeKlaviyo, fakeKlaviyoRun, parseFilter } from '../helpers/fake-klaviyo.js';
import { row, runHandler, summary } from '../helpers/handlers.js';

const suppress = PeopleExclusions.write!.insert! as OperationHandler;
const unsuppress = PeopleExclusions.write!.delete! as OperationHandler;

const at = '2025-05-01T00:00:00+00:00';
const reasons = (...r: string[]) => r.map((reason) => ({ reason, timestamp: at }));

const setup = () => fakeKlaviyoRun();

const emailsOf = (r: { body: any }) => r.body.data.attributes.profiles.data.map((p: any) => p.attributes.email);

describe('PeopleExclusions catalog', () => {
  it('offers insert (suppress) and delete (unsuppress), 100 addresses a job, idempotent', () => {
    expect([...PeopleExclusions.operations]).toEqual(['insert', 'delete']);
    expect(Object.keys(PeopleExclusions.write!).sort()).toEqual(['delete', 'insert']);
    for (const handler of [suppress, unsuppress]) {
      expect(handler.maxBatchSize).toBe(100);
      expect(handler.idempotent).toBe(true);
      expect(handler.requiredColumns).toEqual([['Email', 'ProfileId']]);
    }
    expect(PeopleExclusions.columns.find((c) => c.name === 'ProfileId')!.readOnly).toBeFalsy();
    expect(suppress.validateRow!(row(1, {}), {})).toMatchObject({ code: 'invalid_value' });
  });
});

describe('suppress', () => {
  it('suppresses in one job, polled until complete; already suppressed addresses are unchanged and not sent', async () => {
    const { fake, ctx } = setup();
    fake.jobPolls = 2;
    const ann = fake.addProfile({ email: 'ann@example.com' });
    const bob = fake.addProfile({ email: 'bob@example.com', suppression: reasons('HARD_BOUNCE') });
    const cat = fake.addProfile({ email: 'cat@example.com' });
    const out = await runHandler(
      suppress,
      [
        row(1, { Email: 'ann@example.com' }),
        row(2, { Email: 'bob@example.com' }),
        row(3, { ProfileId: cat.id }),
        row(4, { Email: 'new@example.com' }),
      ],
      ctx,
    );
    const created = fake.byEmail('new@example.com')!;
    expect(summary(out)).toEqual({ 1: 'suppressed', 2: 'unchanged', 3: 'suppressed', 4: 'suppressed' });
    expect(out.map((o) => (o.ok ? o.id : null))).toEqual([ann.id, bob.id, cat.id, created.id]);
    const jobs = fake.sent('bulk_suppress_profiles');
    expect(jobs).toHaveLength(1);
    expect(jobs[0].body.data.type).toBe('profile-suppression-bulk-create-job');
    expect(emailsOf(jobs[0]).sort()).toEqual(['ann@example.com', 'cat@example.com', 'new@example.com']);
    expect(fake.sent('get_bulk_suppress_profiles_job').length).toBeGreaterThanOrEqual(4);
    expect(fake.suppression(ann.id).map((s) => s.reason)).toEqual(['USER_SUPPRESSED']);
    // Suppressions are read with the subscriptions additional field and a sparse fieldset.
    const lookup = fake.sent('get_profiles')[0];
    expect(lookup.query['additional-fields[profile]']).toBe('subscriptions');
    expect(lookup.query['fields[profile]']).toBe('email,subscriptions.email.marketing.suppression');
  });

  it('a job that completes without suppressing an address fails that row not_applied', async () => {
    const { fake, ctx } = setup();
    fake.addProfile({ email: 'ann@example.com' });
    fake.addProfile({ email: 'skip@example.com' });
    fake.suppressionSkips.add('skip@example.com');
    const out = await runHandler(suppress, [row(1, { Email: 'ann@example.com' }), row(2, { Email: 'skip@example.com' })], ctx);
    expect(summary(out)).toEqual({ 1: 'suppressed', 2: 'failed:not_applied' });
    expect(out[1]).toMatchObject({ message: expect.stringContaining('skip@example.com') });
  });

  it('a cancelled job fails its rows', async () => {
    const { fake, ctx } = setup();
    fake.nextJobEnds = ['cancelled'];
    const [o] = await runHandler(suppress, [row(1, { Email: 'ann@example.com' })], ctx);
    expect(o).toMatchObject({ ok: false, code: 'job_cancelled' });
  });

  it('a job still running after the wait limit: its rows are unknown_outcome, not failed as refused', async () => {
    const { fake, ctx, clock } = setup();
    fake.jobPolls = 1_000_000;
    const started = clock.now();
    const [o] = await runHandler(suppress, [row(1, { Email: 'ann@example.com' })], ctx);
    expect(o).toMatchObject({ ok: false, code: 'unknown_outcome', message: expect.stringContaining('stopped waiting') });
    expect(clock.now() - started).toBeGreaterThanOrEqual(30 * 60_000);
  });

  it('250 rows: jobs of at most 100 addresses, lookups of at most 100 values', async () => {
    const { fake, ctx } = setup();
    const rows = Array.from({ length: 250 }, (_, i) => row(i + 1, { Email: `x${i}@example.com` }));
    const out = await runHandler(suppress, rows, ctx);
    expect(out.every((o) => o.ok && o.status === 'suppressed')).toBe(true);
    expect(fake.sent('bulk_suppress_profiles').map((r) => emailsOf(r).length)).toEqual([100, 100, 50]);
    for (const r of fake.sent('get_profiles')) expect(parseFilter(r.query.filter).values.length).toBeLessThanOrEqual(100);
  });

  it('an address Klaviyo refuses (400 pointing at it) fails alone', async () => {
    const { fake, ctx } = setup();
    fake.override = (req) => {
      if (req.operationId !== 'bulk_suppress_profiles') return undefined;
      const i = emailsOf(req).indexOf('bad@example');
      return i >= 0 ? FakeKlaviyo.error(400, 'invalid', 'Invalid email.', `/data/attributes/profiles/data/${i}/attributes/email`) : undefined;
    };
    const out = await runHandler(suppress, [row(1, { Email: 'a@example.com' }), row(2, { Email: 'bad@example' })], ctx);
    expect(summary(out)).toEqual({ 1: 'suppressed', 2: 'failed:invalid' });
  });

  it('a ProfileId without a profile fails not_found', async () => {
    const { ctx } = setup();
    const [o] = await runHandler(suppress, [row(1, { ProfileId: '01NOPE' })], ctx);
    expect(o).toMatchObject({ ok: false, code: 'not_found', message: expect.stringContaining('01NOPE') });
  });
});

describe('unsuppress', () => {
  it('lifts USER_SUPPRESSED; other reasons are refused with the reason and never sent', async () => {
    const { fake, ctx } = setup();
    const ann = fake.addProfile({ email: 'ann@example.com', suppression: reasons('USER_SUPPRESSED') });
    fake.addProfile({ email: 'bounce@example.com', suppression: reasons('HARD_BOUNCE') });
    fake.addProfile({ email: 'unsub@example.com', suppression: reasons('USER_SUPPRESSED', 'UNSUBSCRIBE') });
    const fine = fake.addProfile({ email: 'fine@example.com' });
    const out = await runHandler(
      unsuppress,
      [
        row(1, { Email: 'ann@example.com' }),
        row(2, { Email: 'bounce@example.com' }),
        row(3, { Email: 'unsub@example.com' }),
        row(4, { Email: 'fine@example.com' }),
        row(5, { Email: 'ghost@example.com' }),
      ],
      ctx,
    );
    expect(summary(out)).toEqual({ 1: 'unsuppressed', 2: 'failed:not_unsuppressible', 3: 'failed:not_unsuppressible', 4: 'unchanged', 5: 'failed:not_found' });
    expect(out[0]).toMatchObject({ id: ann.id });
    expect(out[1]).toMatchObject({ message: expect.stringContaining('suppressed for HARD_BOUNCE: Klaviyo lifts only USER_SUPPRESSED') });
    expect(out[2]).toMatchObject({ message: expect.stringContaining('list-subscribe --op insert') });
    expect(out[3]).toMatchObject({ id: fine.id });
    const jobs = fake.sent('bulk_unsuppress_profiles');
    expect(jobs).toHaveLength(1);
    expect(jobs[0].body.data.type).toBe('profile-suppression-bulk-delete-job');
    expect(emailsOf(jobs[0])).toEqual(['ann@example.com']);
    expect(fake.sent('get_bulk_unsuppress_profiles_job').length).toBeGreaterThanOrEqual(2);
    expect(fake.suppression(ann.id)).toEqual([]);
  });

  it('nothing liftable in the batch: no job is sent', async () => {
    const { fake, ctx } = setup();
    fake.addProfile({ email: 'bounce@example.com', suppression: reasons('INVALID_EMAIL') });
    const [o] = await runHandler(unsuppress, [row(1, { Email: 'bounce@example.com' })], ctx);
    expect(o).toMatchObject({ ok: false, code: 'not_unsuppressible' });
    expect(fake.writes()).toHaveLength(0);
  });
});
