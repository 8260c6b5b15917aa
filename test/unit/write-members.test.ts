/**
 * ListMembers insert and delete against a fake Klaviyo (test/helpers/fake-klaviyo.ts):
 * a member already in the list is not added twice, a PhoneNumber or PushToken updates it instead,
 * people without a profile are created in the list by a bulk import job (its import errors
 * mapped back to their rows), lists and ids in batches of at most 1,000, lookups of at most 100
 * values, one bad id isolated instead of failing the batch. Every request is checked against
 * Klaviyo's OpenAPI spec.
 */
import { describe, expect, it } from 'vitest';
import { ListMembers } from '../../src/objects/catalog/list-members.js';
import type { ImportOptions, OperationHandler } from '../../src/objects/write/types.js';
import { FakeKlaviyo, fakeKlaviyoRun, parseFilter } from '../helpers/fake-klaviyo.js';
import { row, runHandler, summary } from '../helpers/handlers.js';

const insert = ListMembers.write!.insert! as OperationHandler;
const remove = ListMembers.write!.delete! as OperationHandler;

const setup = (options: ImportOptions = {}) => fakeKlaviyoRun(options);

describe('ListMembers catalog', () => {
  it('offers insert and delete, batches of 1,000, idempotent', () => {
    expect([...ListMembers.operations]).toEqual(['insert', 'delete']);
    expect(Object.keys(ListMembers.write!).sort()).toEqual(['delete', 'insert']);
    for (const handler of [insert, remove]) {
      expect(handler.maxBatchSize).toBe(1000);
      expect(handler.idempotent).toBe(true);
      expect(handler.requiredColumns).toEqual(['ListId', ['ProfileId', 'Email', 'PhoneNumber', 'ExternalId']]);
    }
    expect(insert.operation).toBe('insert');
    expect(remove.operation).toBe('delete');
  });

  it('ListId and ProfileId are writable; push token columns exist for import only', () => {
    const col = (n: string) => ListMembers.columns.find((c) => c.name === n)!;
    expect(col('ListId').readOnly).toBeFalsy();
    expect(col('ProfileId').readOnly).toBeFalsy();
    expect(col('PushToken').onDemand).toBe(true);
    expect(col('PushPlatform').enum).toEqual(['ios', 'android']);
    for (const name of insert.acceptedColumns!) expect(ListMembers.columns.some((c) => c.name === name), name).toBe(true);
  });

  it('validateRow: a ListId and an identifier are needed; a PushToken needs its platform', () => {
    expect(insert.validateRow!(row(1, { Email: 'a@x.com' }), {})).toMatchObject({ code: 'invalid_value', message: expect.stringContaining('ListId') });
    expect(insert.validateRow!(row(2, { ListId: 'L1', FirstName: 'Ann' }), {})).toMatchObject({ code: 'invalid_value', message: expect.stringContaining('ProfileId, Email, PhoneNumber or ExternalId') });
    expect(insert.validateRow!(row(3, { ListId: 'L1', Email: 'a@x.com', PushToken: 'tok' }), {})).toMatchObject({ message: expect.stringContaining('PushPlatform') });
    expect(insert.validateRow!(row(4, { ListId: 'L1', Email: 'a@x.com', PushToken: 'tok', PushPlatform: 'ios', PushVendor: 'x' }), {})).toMatchObject({ message: expect.stringContaining('PushVendor') });
    expect(insert.validateRow!(row(5, { ListId: 'L1', ExternalId: 'E1' }), {})).toBeNull();
    expect(remove.validateRow!(row(6, { ListId: '', Email: 'a@x.com' }), {})).toMatchObject({ code: 'invalid_value' });
  });
});

describe('insert', () => {
  it('adds non-members by Email, ProfileId, ExternalId or PhoneNumber alone; members are not added again', async () => {
    const { fake, ctx } = setup();
    const ann = fake.addProfile({ email: 'ann@example.com' });
    const bob = fake.addProfile({ email: 'bob@example.com' });
    const cat = fake.addProfile({ external_id: 'EXT-CAT' });
    const dan = fake.addProfile({ phone_number: '+15005550006' });
    const eve = fake.addProfile({ email: 'eve@example.com' });
    const list = fake.addList('L1', 'single_opt_in', [eve]);

    const out = await runHandler(
      insert,
      [
        row(1, { ListId: 'L1', Email: 'Ann@Example.com' }),
        row(2, { ListId: 'L1', ProfileId: bob.id }),
        row(3, { ListId: 'L1', ExternalId: 'EXT-CAT' }),
        row(4, { ListId: 'L1', PhoneNumber: '+15005550006' }),
        row(5, { ListId: 'L1', Email: 'eve@example.com' }),
      ],
      ctx,
    );

    expect(summary(out)).toEqual({ 1: 'added', 2: 'added', 3: 'added', 4: 'added', 5: 'unchanged' });
    expect(out.map((o) => (o.ok ? o.id : null))).toEqual([ann.id, bob.id, cat.id, dan.id, eve.id]);
    const adds = fake.sent('add_profiles_to_list');
    expect(adds).toHaveLength(1);
    expect(adds[0].path).toBe('/api/lists/L1/relationships/profiles');
    expect(adds[0].body.data.map((d: { id: string }) => d.id).sort()).toEqual([ann.id, bob.id, cat.id, dan.id].sort());
    expect([...list.members].sort()).toEqual([ann.id, bob.id, cat.id, dan.id, eve.id].sort());
    // The profile known only by external id was checked through its list memberships.
    expect(fake.sent('get_list_ids_for_profile').map((r) => r.path)).toEqual([`/api/profiles/${cat.id}/relationships/lists`]);
  });

  it('a member already in the list with a new PhoneNumber is updated, not added; the same number is unchanged', async () => {
    const { fake, ctx } = setup();
    const ann = fake.addProfile({ email: 'ann@example.com', phone_number: '+15005550001' });
    const bob = fake.addProfile({ email: 'bob@example.com', phone_number: '+15005550002' });
    fake.addList('L1', 'single_opt_in', [ann, bob]);

    const out = await runHandler(
      insert,
      [row(1, { ListId: 'L1', Email: 'ann@example.com', PhoneNumber: '+15005550009' }), row(2, { ListId: 'L1', Email: 'bob@example.com', PhoneNumber: '+15005550002' })],
      ctx,
    );

    expect(summary(out)).toEqual({ 1: 'updated', 2: 'unchanged' });
    expect(fake.sent('add_profiles_to_list')).toHaveLength(0);
    const patches = fake.sent('update_profile');
    expect(patches).toHaveLength(1);
    expect(patches[0].body).toEqual({ data: { type: 'profile', id: ann.id, attributes: { phone_number: '+15005550009' } } });
    expect(fake.profile(ann.id)!.attributes.phone_number).toBe('+15005550009');
  });

  it('a PhoneNumber that belongs to another profile fails the row with duplicate_profile', async () => {
    const { fake, ctx } = setup();
    const ann = fake.addProfile({ email: 'ann@example.com' });
    fake.addProfile({ email: 'other@example.com', phone_number: '+15005550009' });
    fake.addList('L1', 'single_opt_in', [ann]);

    const [o] = await runHandler(insert, [row(1, { ListId: 'L1', Email: 'ann@example.com', PhoneNumber: '+15005550009' })], ctx);
    expect(o).toMatchObject({ ok: false, code: 'duplicate_profile', message: expect.stringContaining('A profile already exists with one of these identifiers') });
  });

  it('a PushToken registers the token for the member (updated), vendor from the platform', async () => {
    const { fake, ctx } = setup();
    const ann = fake.addProfile({ email: 'ann@example.com' });
    fake.addList('L1', 'single_opt_in', [ann]);
    const out = await runHandler(insert, [row(1, { ListId: 'L1', Email: 'ann@example.com', PushToken: 'tok-1', PushPlatform: 'android' })], ctx);
    expect(summary(out)).toEqual({ 1: 'updated' });
    expect(fake.pushTokens).toEqual([{ profileId: ann.id, token: 'tok-1', platform: 'android', vendor: 'fcm' }]);
  });

  it('people without a profile are created in the list by one bulk import job, polled until complete', async () => {
    const { fake, ctx } = setup();
    fake.jobPolls = 2;
    const list = fake.addList('L1');
    const out = await runHandler(
      insert,
      [
        row(1, { ListId: 'L1', Email: 'new1@example.com', FirstName: 'Nora', PhoneNumber: '+15005550100' }),
        row(2, { ListId: 'L1', ExternalId: 'NEW-2' }),
        row(3, { ListId: 'L1', Email: 'NEW1@example.com' }), // the same new person again
      ],
      ctx,
    );

    expect(summary(out)).toEqual({ 1: 'created', 2: 'created', 3: 'unchanged' });
    const jobs = fake.sent('bulk_import_profiles');
    expect(jobs).toHaveLength(1);
    expect(jobs[0].body.data.relationships).toEqual({ lists: { data: [{ type: 'list', id: 'L1' }] } });
    expect(jobs[0].body.data.attributes.profiles.data).toEqual([
      { type: 'profile', attributes: { email: 'new1@example.com', phone_number: '+15005550100', first_name: 'Nora' } },
      { type: 'profile', attributes: { external_id: 'NEW-2' } },
    ]);
    expect(fake.sent('get_bulk_import_profiles_job').length).toBeGreaterThanOrEqual(4);
    // The job put them in the list: no separate add, and every row has the new profile's id.
    expect(fake.sent('add_profiles_to_list')).toHaveLength(0);
    const created = fake.byEmail('new1@example.com')!;
    expect(out[0]).toMatchObject({ ok: true, id: created.id });
    expect(out[2]).toMatchObject({ ok: true, id: created.id });
    expect(list.members.has(created.id)).toBe(true);
    expect(list.members.size).toBe(2);
  });

  it("an import job's errors fail their rows with Klaviyo's code and detail; the others are created", async () => {
    const { fake, ctx } = setup();
    fake.addList('L1');
    // The job refuses its second profile (row 2's).
    fake.nextJobErrors = [{ index: 1, code: 'invalid', detail: 'Invalid email address bad@example.com' }];
    const out = await runHandler(insert, [row(1, { ListId: 'L1', Email: 'good@example.com' }), row(2, { ListId: 'L1', Email: 'bad@example.com' })], ctx);
    expect(summary(out)).toEqual({ 1: 'created', 2: 'failed:invalid' });
    expect(out[1]).toMatchObject({ message: expect.stringContaining('Invalid email address bad@example.com (/data/attributes/profiles/data/1/attributes/email)') });
    expect(fake.sent('get_errors_for_bulk_import_profiles_job')).toHaveLength(1);
  });

  it('an unknown ProfileId fails not_found (a given id cannot be created)', async () => {
    const { fake, ctx } = setup();
    fake.addList('L1');
    const [o] = await runHandler(insert, [row(7, { ListId: 'L1', ProfileId: '01NOPE' })], ctx);
    expect(o).toEqual({ ok: false, rowNumber: 7, code: 'not_found', message: 'No profile has ProfileId 01NOPE in this Klaviyo account.' });
    expect(fake.writes()).toHaveLength(0);
  });

  it("a list that does not exist fails its rows not_found, naming it; other lists' rows go on", async () => {
    const { fake, ctx } = setup();
    const ann = fake.addProfile({ email: 'ann@example.com' });
    fake.addList('L1');
    const out = await runHandler(insert, [row(1, { ListId: 'NOPE', Email: 'ann@example.com' }), row(2, { ListId: 'L1', Email: 'ann@example.com' })], ctx);
    expect(summary(out)).toEqual({ 1: 'failed:not_found', 2: 'added' });
    expect(out[0]).toMatchObject({ message: expect.stringContaining('List NOPE does not exist') });
    expect(out[1]).toMatchObject({ id: ann.id });
  });

  it('an unknown list fails its rows not_found before anything is written, new people included', async () => {
    const { fake, ctx } = setup();
    const out = await runHandler(insert, [row(1, { ListId: 'NOPE', Email: 'new@example.com' }), row(2, { ListId: 'NOPE', ExternalId: 'X' })], ctx);
    expect(summary(out)).toEqual({ 1: 'failed:not_found', 2: 'failed:not_found' });
    expect(fake.writes()).toHaveLength(0);
  });

  it('Ctrl-C (the run signal aborted) is not a row error: processBatch throws and writes nothing', async () => {
    const { fake, ctx, abort } = setup();
    fake.addProfile({ email: 'ann@example.com' });
    fake.addList('L1');
    abort.abort();
    await expect(insert.processBatch([row(1, { ListId: 'L1', Email: 'ann@example.com' })], ctx)).rejects.toMatchObject({ name: 'InterruptedError' });
    expect(fake.writes()).toHaveLength(0);
  });

  it('one id Klaviyo refuses (400 pointing at it) fails alone; the rest of the batch is sent again', async () => {
    const { fake, ctx } = setup();
    const people = [0, 1, 2, 3].map((i) => fake.addProfile({ email: `p${i}@example.com` }));
    fake.addList('L1');
    let refused = false;
    fake.override = (req) => {
      if (req.operationId !== 'add_profiles_to_list' || refused) return undefined;
      refused = true;
      const i = req.body.data.findIndex((d: { id: string }) => d.id === people[2].id);
      return FakeKlaviyo.error(400, 'invalid', 'This profile cannot be added.', `/data/${i}/id`);
    };
    const out = await runHandler(insert, people.map((p, i) => row(i + 1, { ListId: 'L1', Email: p.attributes.email })), ctx);
    expect(summary(out)).toEqual({ 1: 'added', 2: 'added', 3: 'failed:invalid', 4: 'added' });
    expect(out[2]).toMatchObject({ message: expect.stringContaining('This profile cannot be added.') });
    const adds = fake.sent('add_profiles_to_list');
    expect(adds).toHaveLength(2);
    expect(adds[1].body.data).toHaveLength(3);
  });

  it('a refusal without a pointer is bisected down to the bad id', async () => {
    const { fake, ctx } = setup();
    const people = Array.from({ length: 8 }, (_, i) => fake.addProfile({ email: `p${i}@example.com` }));
    fake.addList('L1');
    fake.override = (req) =>
      req.operationId === 'add_profiles_to_list' && req.body.data.some((d: { id: string }) => d.id === people[5].id)
        ? FakeKlaviyo.error(400, 'invalid', 'One of these profiles is not allowed in this list.')
        : undefined;
    const out = await runHandler(insert, people.map((p, i) => row(i + 1, { ListId: 'L1', Email: p.attributes.email })), ctx);
    expect(Object.values(summary(out)).filter((s) => s === 'added')).toHaveLength(7);
    expect(summary(out)[6]).toBe('failed:invalid');
    expect(fake.sent('add_profiles_to_list').length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(8)) + 1);
  });

  it('2,500 rows in batches of 1,000: add calls carry at most 1,000 ids, lookups at most 100 values', async () => {
    const { fake, ctx } = setup();
    fake.addList('L1');
    const rows = Array.from({ length: 2500 }, (_, i) => {
      const p = fake.addProfile({ email: `m${i}@example.com` });
      return row(i + 1, { ListId: 'L1', Email: p.attributes.email });
    });
    const out = await runHandler(insert, rows, ctx);
    expect(out.every((o) => o.ok && o.status === 'added')).toBe(true);
    const adds = fake.sent('add_profiles_to_list');
    expect(adds.map((a) => a.body.data.length)).toEqual([1000, 1000, 500]);
    for (const r of [...fake.sent('get_profiles'), ...fake.sent('get_profiles_for_list')]) {
      expect(parseFilter(r.query.filter).values.length).toBeLessThanOrEqual(100);
    }
    expect(fake.lists.get('L1')!.members.size).toBe(2500);
  });

  it('a refused key (401) is not a row error: processBatch throws', async () => {
    const { fake, ctx } = setup();
    fake.override = () => FakeKlaviyo.error(401, 'not_authenticated', 'Incorrect authentication credentials.');
    await expect(insert.processBatch([row(1, { ListId: 'L1', Email: 'a@x.com' })], ctx)).rejects.toMatchObject({ status: 401 });
  });
});

describe('delete', () => {
  it('removes members; non-members are unchanged; unknown people fail not_found', async () => {
    const { fake, ctx } = setup();
    const ann = fake.addProfile({ email: 'ann@example.com' });
    const bob = fake.addProfile({ email: 'bob@example.com' });
    const list = fake.addList('L1', 'single_opt_in', [ann]);
    const out = await runHandler(
      remove,
      [
        row(1, { ListId: 'L1', Email: 'ann@example.com' }),
        row(2, { ListId: 'L1', Email: 'bob@example.com' }),
        row(3, { ListId: 'L1', Email: 'nobody@example.com' }),
        row(4, { ListId: 'L1', Email: 'ann@example.com' }),
      ],
      ctx,
    );
    expect(summary(out)).toEqual({ 1: 'removed', 2: 'unchanged', 3: 'failed:not_found', 4: 'unchanged' });
    expect(out[1]).toMatchObject({ id: bob.id });
    expect(out[2]).toMatchObject({ message: 'No profile has Email nobody@example.com in this Klaviyo account.' });
    const removals = fake.sent('remove_profiles_from_list');
    expect(removals).toHaveLength(1);
    expect(removals[0].method).toBe('DELETE');
    expect(removals[0].body).toEqual({ data: [{ type: 'profile', id: ann.id }] });
    expect(list.members.size).toBe(0);
  });

  it('removes at most 1,000 ids a call', async () => {
    const { fake, ctx } = setup();
    const people = Array.from({ length: 1500 }, (_, i) => fake.addProfile({ email: `d${i}@example.com` }));
    fake.addList('L1', 'single_opt_in', people);
    const out = await runHandler(remove, people.map((p, i) => row(i + 1, { ListId: 'L1', Email: p.attributes.email })), ctx);
    expect(out.every((o) => o.ok && o.status === 'removed')).toBe(true);
    expect(fake.sent('remove_profiles_from_list').map((r) => r.body.data.length)).toEqual([1000, 500]);
  });
});
