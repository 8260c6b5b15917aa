/**
 * ListSubscribe insert (subscribe) and delete (unsubscribe) against a fake Klaviyo: channels from
 * the row, double opt-in lists giving `pending-confirmation` (never `subscribed`), historical
 * imports with their consent dates, the global-unsubscribe guard (people not in the list are
 * refused without being sent unless allowGlobalUnsubscribe), jobs of at most 1,000 / 100 people,
 * one bad entry isolated. Every request is checked against Klaviyo's OpenAPI spec.
 */
import { describe, expect, it } from 'vitest';
import { ListSubscribe } from '../../src/objects/catalog/list-subscribe.js';
import type { ImportOptions, OperationHandler } from '../../src/objects/write/types.js';
import { FakeKlaviyo, fakeKlaviyoRun } from '../helpers/fake-klaviyo.js';
import { row, runHandler, summary } from '../helpers/handlers.js';

const subscribe = ListSubscribe.write!.insert! as OperationHandler;
const unsubscribe = ListSubscribe.write!.delete! as OperationHandler;

const setup = (options: ImportOptions = {}) => fakeKlaviyoRun(options);

const profilesOf = (job: any) => job.data.attributes.profiles.data;

describe('ListSubscribe catalog', () => {
  it('offers insert (subscribe, 1,000 a job) and delete (unsubscribe, 100 a job)', () => {
    expect([...ListSubscribe.operations]).toEqual(['insert', 'delete']);
    expect(Object.keys(ListSubscribe.write!).sort()).toEqual(['delete', 'insert']);
    expect(subscribe.maxBatchSize).toBe(1000);
    expect(unsubscribe.maxBatchSize).toBe(100);
    expect(subscribe.idempotent && unsubscribe.idempotent).toBe(true);
    expect(subscribe.requiredColumns).toEqual(['ListId', ['Email', 'PhoneNumber']]);
    for (const name of [...subscribe.acceptedColumns!, ...unsubscribe.acceptedColumns!]) {
      const col = ListSubscribe.columns.find((c) => c.name === name);
      expect(col, name).toBeDefined();
      expect(col!.readOnly, name).toBeFalsy();
    }
  });
});

describe('subscribe', () => {
  it('one job per list: Email -> email marketing, PhoneNumber -> SMS marketing; single opt-in rows are subscribed', async () => {
    const { fake, ctx } = setup();
    fake.addList('L1', 'single_opt_in');
    const out = await runHandler(
      subscribe,
      [
        row(1, { ListId: 'L1', Email: 'ann@example.com' }),
        row(2, { ListId: 'L1', PhoneNumber: '+15005550006' }),
        row(3, { ListId: 'L1', Email: 'cat@example.com', PhoneNumber: '+15005550007', ProfileId: '01CAT' }),
      ],
      ctx,
    );
    expect(summary(out)).toEqual({ 1: 'subscribed', 2: 'subscribed', 3: 'subscribed' });
    expect(out[2]).toMatchObject({ id: '01CAT' });
    expect(fake.subscribeJobs).toHaveLength(1);
    const job = fake.subscribeJobs[0];
    expect(job.data.type).toBe('profile-subscription-bulk-create-job');
    expect(job.data.relationships).toEqual({ list: { data: { type: 'list', id: 'L1' } } });
    expect(job.data.attributes).toMatchObject({ custom_source: 'klv import', historical_import: false });
    expect(profilesOf(job)).toEqual([
      { type: 'profile', attributes: { email: 'ann@example.com', subscriptions: { email: { marketing: { consent: 'SUBSCRIBED' } } } } },
      { type: 'profile', attributes: { phone_number: '+15005550006', subscriptions: { sms: { marketing: { consent: 'SUBSCRIBED' } } } } },
      {
        type: 'profile',
        id: '01CAT',
        attributes: {
          email: 'cat@example.com',
          phone_number: '+15005550007',
          subscriptions: { email: { marketing: { consent: 'SUBSCRIBED' } }, sms: { marketing: { consent: 'SUBSCRIBED' } } },
        },
      },
    ]);
  });

  it('a double opt-in list only sends a confirmation: its rows are pending-confirmation, never subscribed', async () => {
    const { fake, ctx } = setup();
    fake.addList('DOI', 'double_opt_in');
    fake.addList('SOI', 'single_opt_in');
    const out = await runHandler(
      subscribe,
      [row(1, { ListId: 'DOI', Email: 'ann@example.com' }), row(2, { ListId: 'SOI', Email: 'ann@example.com' }), row(3, { ListId: 'DOI', Email: 'bob@example.com' })],
      ctx,
      1,
    );
    expect(summary(out)).toEqual({ 1: 'pending-confirmation', 2: 'subscribed', 3: 'pending-confirmation' });
    // Each list's opt-in process is read once, however many batches name it.
    expect(fake.sent('get_list').map((r) => r.path)).toEqual(['/api/lists/DOI', '/api/lists/SOI']);
    expect(fake.sent('get_list')[0].query['fields[list]']).toBe('name,opt_in_process');
  });

  it('--historical-import sends the consent dates and the rows are subscribed even on a double opt-in list', async () => {
    const { fake, ctx } = setup({ historicalImport: true });
    fake.addList('DOI', 'double_opt_in');
    const out = await runHandler(
      subscribe,
      [
        row(1, { ListId: 'DOI', Email: 'ann@example.com', ConsentedAt: '2024-03-01T10:00:00Z' }),
        row(2, { ListId: 'DOI', Email: 'bob@example.com', PhoneNumber: '+15005550006', EmailConsentTimestamp: '2023-01-01T00:00:00Z', ConsentedAt: '2024-01-01T00:00:00Z' }),
      ],
      ctx,
    );
    expect(summary(out)).toEqual({ 1: 'subscribed', 2: 'subscribed' });
    const job = fake.subscribeJobs[0];
    expect(job.data.attributes.historical_import).toBe(true);
    expect(profilesOf(job)[0].attributes.subscriptions).toEqual({ email: { marketing: { consent: 'SUBSCRIBED', consented_at: '2024-03-01T10:00:00Z' } } });
    expect(profilesOf(job)[1].attributes.subscriptions).toEqual({
      email: { marketing: { consent: 'SUBSCRIBED', consented_at: '2023-01-01T00:00:00Z' } },
      sms: { marketing: { consent: 'SUBSCRIBED', consented_at: '2024-01-01T00:00:00Z' } },
    });
  });

  it('--historical-import needs a consent date in the past; without the flag no date is sent (Klaviyo would refuse it)', async () => {
    const historical = { historicalImport: true };
    expect(subscribe.validateRow!(row(1, { ListId: 'L1', Email: 'a@x.com' }), historical)).toMatchObject({ code: 'invalid_value', message: expect.stringContaining('ConsentedAt') });
    expect(subscribe.validateRow!(row(2, { ListId: 'L1', Email: 'a@x.com', ConsentedAt: '2999-01-01T00:00:00Z' }), historical)).toMatchObject({ message: expect.stringContaining('in the future') });
    expect(subscribe.validateRow!(row(3, { ListId: 'L1', PhoneNumber: '+15005550006', EmailConsentTimestamp: '2020-01-01T00:00:00Z' }), historical)).toMatchObject({ message: expect.stringContaining('SMS consent') });
    expect(subscribe.validateRow!(row(4, { ListId: 'L1', Email: 'a@x.com', ConsentedAt: '2020-01-01T00:00:00Z' }), historical)).toBeNull();
    expect(subscribe.validateRow!(row(5, { ListId: 'L1', Email: 'a@x.com' }), {})).toBeNull();
    expect(subscribe.validateRow!(row(6, { ListId: 'L1' }), {})).toMatchObject({ message: expect.stringContaining('neither Email nor PhoneNumber') });

    const zone = process.env.TZ;
    process.env.TZ = 'America/Los_Angeles';
    try {
      // Two hours ago in UTC, written without a zone: read in Los Angeles it would be hours ahead.
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000).toISOString().slice(0, 19);
      expect(subscribe.validateRow!(row(7, { ListId: 'L1', Email: 'a@x.com', ConsentedAt: twoHoursAgo }), historical)).toBeNull();
      expect(subscribe.validateRow!(row(8, { ListId: 'L1', Email: 'a@x.com', ConsentedAt: '2023-02-29T00:00:00Z' }), historical)).toMatchObject({ message: expect.stringContaining('not a date-time') });
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }

    const { fake, ctx } = setup();
    fake.addList('L1');
    await runHandler(subscribe, [row(1, { ListId: 'L1', Email: 'a@x.com', ConsentedAt: '2020-01-01T00:00:00Z' })], ctx);
    expect(profilesOf(fake.subscribeJobs[0])[0].attributes.subscriptions).toEqual({ email: { marketing: { consent: 'SUBSCRIBED' } } });
  });

  it('2,500 rows: jobs of at most 1,000 people; the same person twice in a list is sent once', async () => {
    const { fake, ctx } = setup();
    fake.addList('L1');
    const rows = Array.from({ length: 2500 }, (_, i) => row(i + 1, { ListId: 'L1', Email: `s${i}@example.com` }));
    rows.push(row(2501, { ListId: 'L1', Email: 'S2400@example.com' })); // in the same batch as s2400
    const out = await runHandler(subscribe, rows, ctx);
    expect(out.every((o) => o.ok && o.status === 'subscribed')).toBe(true);
    expect(fake.subscribeJobs.map((j) => profilesOf(j).length)).toEqual([1000, 1000, 500]);
  });

  it('a list that does not exist fails its rows not_found and sends nothing', async () => {
    const { fake, ctx } = setup();
    const out = await runHandler(subscribe, [row(1, { ListId: 'NOPE', Email: 'a@x.com' })], ctx);
    expect(out[0]).toMatchObject({ ok: false, code: 'not_found', message: expect.stringContaining('List NOPE does not exist') });
    expect(fake.writes()).toHaveLength(0);
  });

  it('an entry Klaviyo refuses (400 with a pointer) fails alone; the others are sent again', async () => {
    const { fake, ctx } = setup();
    fake.addList('L1');
    fake.override = (req) => {
      if (req.operationId !== 'bulk_subscribe_profiles') return undefined;
      const i = profilesOf(req.body).findIndex((p: any) => p.attributes.phone_number === '+1999');
      return i >= 0 ? FakeKlaviyo.error(400, 'invalid', 'Invalid phone number format.', `/data/attributes/profiles/data/${i}/attributes/phone_number`) : undefined;
    };
    const out = await runHandler(
      subscribe,
      [row(1, { ListId: 'L1', Email: 'a@x.com' }), row(2, { ListId: 'L1', PhoneNumber: '+1999' }), row(3, { ListId: 'L1', Email: 'c@x.com' })],
      ctx,
    );
    expect(summary(out)).toEqual({ 1: 'subscribed', 2: 'failed:invalid', 3: 'subscribed' });
    expect(out[1]).toMatchObject({ message: 'Invalid phone number format. (/data/attributes/profiles/data/1/attributes/phone_number)' });
    expect(fake.subscribeJobs).toHaveLength(1);
    expect(profilesOf(fake.subscribeJobs[0])).toHaveLength(2);
  });
});

describe('unsubscribe', () => {
  it('unsubscribes members of the list; people not in it are refused (not_in_list) and never sent', async () => {
    const { fake, ctx } = setup();
    const ann = fake.addProfile({ email: 'ann@example.com' });
    const bob = fake.addProfile({ email: 'bob@example.com', phone_number: '+15005550002' });
    fake.addProfile({ email: 'out@example.com' });
    fake.addList('L1', 'single_opt_in', [ann, bob]);
    const out = await runHandler(
      unsubscribe,
      [row(1, { ListId: 'L1', Email: 'ann@example.com' }), row(2, { ListId: 'L1', Email: 'out@example.com' }), row(3, { ListId: 'L1', PhoneNumber: '+15005550002' })],
      ctx,
    );
    expect(summary(out)).toEqual({ 1: 'unsubscribed', 2: 'failed:not_in_list', 3: 'unsubscribed' });
    expect(out[0]).toMatchObject({ id: ann.id });
    expect(out[2]).toMatchObject({ id: bob.id });
    expect(out[1]).toMatchObject({ message: expect.stringContaining('--allow-global-unsubscribe') });
    expect(out[1]).toMatchObject({ message: expect.stringContaining('Email out@example.com is not in list L1') });
    expect(fake.unsubscribeJobs).toHaveLength(1);
    const job = fake.unsubscribeJobs[0];
    expect(job.data.type).toBe('profile-subscription-bulk-delete-job');
    expect(job.data.relationships).toEqual({ list: { data: { type: 'list', id: 'L1' } } });
    expect(profilesOf(job)).toEqual([
      { type: 'profile', attributes: { email: 'ann@example.com', subscriptions: { email: { marketing: { consent: 'UNSUBSCRIBED' } } } } },
      { type: 'profile', attributes: { phone_number: '+15005550002', subscriptions: { sms: { marketing: { consent: 'UNSUBSCRIBED' } } } } },
    ]);
  });

  it('a phone number that is not the member\'s own is refused too (it could be someone outside the list)', async () => {
    const { fake, ctx } = setup();
    const ann = fake.addProfile({ email: 'ann@example.com', phone_number: '+15005550001' });
    fake.addProfile({ email: 'zed@example.com', phone_number: '+15005550099' });
    fake.addList('L1', 'single_opt_in', [ann]);
    const [o] = await runHandler(unsubscribe, [row(1, { ListId: 'L1', Email: 'ann@example.com', PhoneNumber: '+15005550099' })], ctx);
    expect(o).toMatchObject({ ok: false, code: 'not_in_list', message: expect.stringContaining('PhoneNumber +15005550099 is not the phone number') });
    expect(fake.unsubscribeJobs).toHaveLength(0);
  });

  it('allowGlobalUnsubscribe sends everyone without reading the members', async () => {
    const { fake, ctx } = setup({ allowGlobalUnsubscribe: true });
    fake.addList('L1');
    const out = await runHandler(unsubscribe, [row(1, { ListId: 'L1', Email: 'out@example.com' })], ctx);
    expect(summary(out)).toEqual({ 1: 'unsubscribed' });
    expect(fake.sent('get_profiles_for_list')).toHaveLength(0);
    expect(fake.unsubscribeJobs).toHaveLength(1);
  });

  it('jobs of at most 100 people', async () => {
    const { fake, ctx } = setup();
    const people = Array.from({ length: 250 }, (_, i) => fake.addProfile({ email: `u${i}@example.com` }));
    fake.addList('L1', 'single_opt_in', people);
    const out = await runHandler(unsubscribe, people.map((p, i) => row(i + 1, { ListId: 'L1', Email: p.attributes.email })), ctx);
    expect(out.every((o) => o.ok && o.status === 'unsubscribed')).toBe(true);
    expect(fake.unsubscribeJobs.map((j) => profilesOf(j).length)).toEqual([100, 100, 50]);
  });

  it('an unknown list fails its rows not_found: nothing is sent', async () => {
    const { fake, ctx } = setup({ allowGlobalUnsubscribe: true });
    const [o] = await runHandler(unsubscribe, [row(1, { ListId: 'NOPE', Email: 'a@x.com' })], ctx);
    expect(o).toMatchObject({ ok: false, code: 'not_found' });
    expect(fake.writes()).toHaveLength(0);
  });
});
