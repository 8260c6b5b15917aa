/**
 * Running the plans of the special objects against a scripted client: how resources become
 * rows (a campaign's first message, one row per suppression, the group id on member rows), the
 * requests klv adds only when Klaviyo leaves something out, and stopping early (--limit,
 * groups excluded by a condition cost no request).
 */
import { describe, expect, it } from 'vitest';
import type { KlaviyoClient } from '../../src/klaviyo/client.js';
import type { JsonApiResource } from '../../src/klaviyo/json-api.js';
import { selectColumns } from '../../src/objects/columns.js';
import { findObject } from '../../src/objects/registry.js';
import { parseWhere } from '../../src/objects/where.js';
import type { ReadOptions, Row } from '../../src/objects/types.js';
import { notFound, scripted, type Script } from '../helpers/scripted-client.js';

async function rowsOf(
  object: string,
  client: KlaviyoClient,
  where: string[] = [],
  o: { columns?: string[]; options?: ReadOptions; limit?: number; properties?: string[] } = {},
): Promise<Row[]> {
  const def = findObject(object);
  const plan = def.plan({
    columns: selectColumns(def, o.columns, { properties: o.properties }),
    where: where.map((w) => parseWhere(w, def)),
    limit: o.limit,
    options: o.options ?? {},
  });
  const rows: Row[] = [];
  for await (const row of plan.execute(client)) rows.push(row);
  return rows;
}

const profile = (id: string, attributes: Record<string, unknown>): JsonApiResource => ({ type: 'profile', id, attributes });

function message(id: string, channel: string, content: Record<string, unknown>, template?: string | null): JsonApiResource {
  const m: JsonApiResource = { type: 'campaign-message', id, attributes: { definition: { channel, label: `label ${id}`, content } } };
  if (template !== undefined) m.relationships = { template: { data: template === null ? null : { type: 'template', id: template } } };
  return m;
}

function campaign(id: string, messages: JsonApiResource[] | undefined, ids = messages?.map((m) => m.id) ?? []): JsonApiResource {
  const c: JsonApiResource = {
    type: 'campaign',
    id,
    attributes: { name: `Campaign ${id}`, status: 'Sent', archived: false, audiences: { included: ['L1'], excluded: [] }, created_at: '2026-01-01T00:00:00+00:00' },
    relationships: { 'campaign-messages': { data: ids.map((mid) => ({ type: 'campaign-message', id: mid })) } },
  };
  if (messages) c.includedRelationships = { 'campaign-messages': messages };
  return c;
}

describe('Campaigns rows', () => {
  it('one row per campaign with its first message; Messages has them all; Channel is the request\'s', async () => {
    const a = message('m1', 'email', { subject: 'Hello', preview_text: 'Pre', from_email: 'a@x.example', from_label: 'A' }, 't1');
    const b = message('m2', 'email', { subject: 'Hello B' }, 't2');
    const { client, calls } = scripted({
      pages: (op, o) => (op === 'get_campaigns' && String(o.query?.filter).includes("'email'") ? [[campaign('c1', [a, b])]] : []),
    });
    const rows = await rowsOf('campaigns', client);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      Id: 'c1',
      Name: 'Campaign c1',
      Channel: 'email',
      Archived: false,
      Subject: 'Hello',
      PreviewText: 'Pre',
      FromEmail: 'a@x.example',
      FromLabel: 'A',
      TemplateId: 't1',
      IncludedListIds: ['L1'],
    });
    expect(rows[0].Messages).toEqual([
      { id: 'm1', channel: 'email', label: 'label m1', content: { subject: 'Hello', preview_text: 'Pre', from_email: 'a@x.example', from_label: 'A' }, template_id: 't1' },
      { id: 'm2', channel: 'email', label: 'label m2', content: { subject: 'Hello B' }, template_id: 't2' },
    ]);
    // Three channels, nothing else: the template ids came with the messages.
    expect(calls.map((c) => `${c.kind} ${c.op}`)).toEqual(Array(3).fill('paginate get_campaigns'));
  });

  it('reads the messages when Klaviyo did not include them, and a missing template relationship', async () => {
    const withoutTemplate = message('m9', 'email', { subject: 'Late' });
    const { client, calls } = scripted({
      pages: (op, o) => (String(o.query?.filter).includes("'email'") ? [[campaign('c9', undefined, ['m9'])]] : []),
      request: (op) => {
        if (op === 'get_messages_for_campaign') return { data: [withoutTemplate] };
        if (op === 'get_template_id_for_campaign_message') return { data: { type: 'template', id: 'tX' } };
        throw new Error(`unexpected ${op}`);
      },
    });
    const rows = await rowsOf('campaigns', client, ["Channel = 'email'"], { columns: ['Id', 'Subject', 'TemplateId'] });
    expect(rows).toEqual([{ Id: 'c9', Subject: 'Late', TemplateId: 'tX' }]);
    expect(calls.filter((c) => c.kind === 'request').map((c) => [c.op, c.path])).toEqual([
      ['get_messages_for_campaign', { id: 'c9' }],
      ['get_template_id_for_campaign_message', { id: 'm9' }],
    ]);
  });

  it('asks nothing more for SMS messages, a null template, or a campaign without messages', async () => {
    const sms = message('s1', 'sms', { body: 'Hi' });
    const nullTemplate = message('m3', 'email', { subject: 'No template' }, null);
    const { client, calls } = scripted({
      pages: (op, o) => {
        const f = String(o.query?.filter);
        if (f.includes("'sms'")) return [[campaign('c1', [sms])]];
        if (f.includes("'email'")) return [[campaign('c2', [nullTemplate]), campaign('c3', undefined, [])]];
        return [];
      },
    });
    const rows = await rowsOf('campaigns', client, [], { columns: ['Id', 'Channel', 'Subject', 'TemplateId'] });
    expect(rows).toEqual([
      { Id: 'c2', Channel: 'email', Subject: 'No template', TemplateId: null },
      { Id: 'c3', Channel: 'email', Subject: null, TemplateId: null },
      { Id: 'c1', Channel: 'sms', Subject: null, TemplateId: null },
    ]);
    expect(calls.filter((c) => c.kind === 'request')).toEqual([]);
  });

  it('--limit stops across channels and asks Klaviyo for no more than needed', async () => {
    const { client, calls } = scripted({
      pages: (op, o) => {
        const f = String(o.query?.filter);
        if (f.includes("'email'")) return [[campaign('e1', []), campaign('e2', [])]];
        if (f.includes("'sms'")) return [[campaign('s1', []), campaign('s2', [])]];
        return [[campaign('p1', [])]];
      },
    });
    const rows = await rowsOf('campaigns', client, [], { columns: ['Id'], limit: 3 });
    expect(rows.map((r) => r.Id)).toEqual(['e1', 'e2', 's1']);
    expect(calls.map((c) => c.limit)).toEqual([3, 1]);
  });

  it('by id: the archived default is applied to the row', async () => {
    const archived = { ...campaign('c1', []), attributes: { ...campaign('c1', []).attributes, archived: true } };
    const { client } = scripted({ request: () => ({ data: archived }) });
    expect(await rowsOf('campaigns', client, ["Id = 'c1'"], { columns: ['Id'] })).toEqual([]);
    expect(await rowsOf('campaigns', client, ["Id = 'c1'"], { columns: ['Id', 'Archived'], options: { includeArchived: true } })).toEqual([
      { Id: 'c1', Archived: true },
    ]);
  });
});

describe('ListMembers rows', () => {
  const lists = [{ type: 'list', id: 'a' }, { type: 'list', id: 'b' }, { type: 'list', id: 'c' }];
  const members: Record<string, JsonApiResource[][]> = {
    a: [[profile('p1', { email: 'one@x.example', joined_group_at: '2026-01-01T00:00:00+00:00' })], [profile('p2', { email: 'two@x.example' })]],
    b: [[profile('p3', { email: 'three@x.example' })]],
    c: [[profile('p1', { email: 'one@x.example' })]],
  };
  const script: Script = { pages: (op, o) => (op === 'get_lists' ? [lists] : members[o.pathParams!.id]) };
  // One cursor per list (a small account reads that way anyway).
  const one = { parallelism: 1 };

  it('streams every list\'s members with the list id', async () => {
    const { client, calls } = scripted(script);
    const rows = await rowsOf('list-members', client, [], { columns: ['ListId', 'ProfileId', 'Email', 'JoinedGroupAt'], options: one });
    expect(rows).toEqual([
      { ListId: 'a', ProfileId: 'p1', Email: 'one@x.example', JoinedGroupAt: '2026-01-01T00:00:00+00:00' },
      { ListId: 'a', ProfileId: 'p2', Email: 'two@x.example', JoinedGroupAt: null },
      { ListId: 'b', ProfileId: 'p3', Email: 'three@x.example', JoinedGroupAt: null },
      { ListId: 'c', ProfileId: 'p1', Email: 'one@x.example', JoinedGroupAt: null },
    ]);
    expect(calls.map((c) => `${c.op} ${c.path?.id ?? ''}`.trim())).toEqual([
      'get_lists',
      'get_profiles_for_list a',
      'get_profiles_for_list b',
      'get_profiles_for_list c',
    ]);
  });

  it('a list a condition excludes is not read at all', async () => {
    const { client, calls } = scripted(script);
    const rows = await rowsOf('list-members', client, ["ListId != 'a'"], { columns: ['ListId', 'ProfileId'], options: one });
    expect(rows).toEqual([
      { ListId: 'b', ProfileId: 'p3' },
      { ListId: 'c', ProfileId: 'p1' },
    ]);
    expect(calls.map((c) => c.path?.id)).toEqual([undefined, 'b', 'c']);
  });

  it('named lists are read without listing the lists', async () => {
    const { client, calls } = scripted(script);
    const rows = await rowsOf('list-members', client, ["ListId in ('c','b')"], { columns: ['ListId', 'ProfileId'], options: one });
    expect(rows.map((r) => `${r.ListId}/${r.ProfileId}`)).toEqual(['c/p1', 'b/p3']);
    expect(calls.map((c) => c.op)).toEqual(['get_profiles_for_list', 'get_profiles_for_list']);
  });

  it('--limit stops paging: the second page of list a is never fetched', async () => {
    const { client, calls, pagesServed } = scripted(script);
    const rows = await rowsOf('list-members', client, [], { columns: ['ProfileId'], limit: 1 });
    expect(rows).toEqual([{ ProfileId: 'p1' }]);
    expect(calls.at(-1)).toMatchObject({ op: 'get_profiles_for_list', limit: 1 });
    expect(pagesServed()).toBe(2); // the lists page and list a's first page
  });

  it('local conditions are checked on each member row', async () => {
    const { client } = scripted(script);
    const rows = await rowsOf('list-members', client, ["Email starts-with 'T'"], { columns: ['ListId', 'Email'], options: one });
    expect(rows).toEqual([
      { ListId: 'a', Email: 'two@x.example' },
      { ListId: 'b', Email: 'three@x.example' },
    ]);
  });

  it('partitioned: a list whose first page is all of it is read from its end page(s), rows carry the list id', async () => {
    const { client, calls } = scripted({
      pages: (op) => (op === 'get_lists' ? [[{ type: 'list', id: 'a' }]] : []),
      request: (op, o) => {
        expect(op).toBe('get_profiles_for_list');
        const page = [
          profile('p1', { email: 'one@x.example', joined_group_at: '2026-01-01T00:00:00+00:00' }),
          profile('p2', { email: 'two@x.example', joined_group_at: '2026-01-02T00:00:00+00:00' }),
        ];
        return { data: String(o.query?.sort).startsWith('-') ? page.reverse() : page, links: { next: null } };
      },
    });
    const rows = await rowsOf('list-members', client, [], { columns: ['ListId', 'ProfileId'] });
    expect(rows).toEqual([
      { ListId: 'a', ProfileId: 'p1' },
      { ListId: 'a', ProfileId: 'p2' },
    ]);
    const pageRequests = calls.filter((c) => c.kind === 'request');
    expect(pageRequests.length).toBeGreaterThanOrEqual(1);
    expect(pageRequests.every((c) => c.op === 'get_profiles_for_list' && c.path?.id === 'a')).toBe(true);
  });
});

describe('a list deleted while its members are read', () => {
  const lists = [{ type: 'list', id: 'a' }, { type: 'list', id: 'b' }, { type: 'list', id: 'c' }];
  const members: Record<string, JsonApiResource[]> = {
    a: [profile('p1', { joined_group_at: '2026-01-01T00:00:00+00:00' })],
    c: [profile('p3', { joined_group_at: '2026-01-03T00:00:00+00:00' })],
  };

  async function readAll(client: KlaviyoClient, withReport: boolean, options: ReadOptions) {
    const def = findObject('list-members');
    const plan = def.plan({ columns: selectColumns(def, ['ListId', 'ProfileId']), where: [], options });
    const skipped: string[] = [];
    const rows: Row[] = [];
    const report = withReport ? { skipped: (part: string, reason: string) => void skipped.push(`${part}: ${reason}`) } : undefined;
    for await (const row of plan.execute(client, undefined, report)) rows.push(row);
    return { rows, skipped };
  }

  // List b is listed, then deleted before its members are read: Klaviyo answers 404 for them.
  const oneCursor: Script = {
    pages: (op, o) => {
      if (op === 'get_lists') return [lists];
      if (o.pathParams!.id === 'b') throw notFound(op, '/api/lists/b/profiles');
      return [members[o.pathParams!.id]!];
    },
  };
  const partitioned: Script = {
    pages: (op) => (op === 'get_lists' ? [lists] : []),
    request: (op, o) => {
      if (o.pathParams!.id === 'b') throw notFound(op, '/api/lists/b/profiles');
      return { data: members[o.pathParams!.id], links: { next: null } };
    },
  };

  for (const [label, script, options] of [
    ['one cursor per list', oneCursor, { parallelism: 1 }],
    ['partitioned', partitioned, {}],
  ] as const) {
    it(`${label}: a caller that takes a report is told and gets the other lists' members`, async () => {
      const { rows, skipped } = await readAll(scripted(script).client, true, options);
      expect(rows).toEqual([
        { ListId: 'a', ProfileId: 'p1' },
        { ListId: 'c', ProfileId: 'p3' },
      ]);
      expect(skipped).toEqual(['the members of list b: Klaviyo answered 404 Not Found for them: the list was deleted while klv read it']);
    });

    it(`${label}: any other caller (export, a replica's read) gets the error, not rows silently missing`, async () => {
      await expect(readAll(scripted(script).client, false, options)).rejects.toMatchObject({ status: 404 });
    });
  }

  it('other errors are thrown even to a caller that takes a report', async () => {
    const { client } = scripted({
      pages: (op) => {
        if (op === 'get_lists') return [lists];
        throw new Error('connection reset');
      },
    });
    await expect(readAll(client, true, { parallelism: 1 })).rejects.toThrow('connection reset');
  });
});

describe('ListSubscribe rows', () => {
  it('carries the consent per channel', async () => {
    const subscriptions = {
      email: { marketing: { consent: 'SUBSCRIBED', consent_timestamp: '2026-01-02T00:00:00+00:00', double_optin: true, can_receive_email_marketing: true } },
      sms: { marketing: { consent: 'UNSUBSCRIBED', consent_timestamp: '2026-01-03T00:00:00+00:00', can_receive_sms_marketing: false } },
    };
    const { client, calls } = scripted({
      pages: () => [[profile('p1', { email: 'ann@example.com', phone_number: '+15005550006', subscriptions, joined_group_at: '2026-01-01T00:00:00+00:00' })]],
    });
    const rows = await rowsOf('list-subscribe', client, ["Email = 'ann@example.com'", "ListId = 'L1'"]);
    expect(rows).toEqual([
      {
        ListId: 'L1',
        ProfileId: 'p1',
        Email: 'ann@example.com',
        PhoneNumber: '+15005550006',
        EmailConsent: 'SUBSCRIBED',
        EmailConsentTimestamp: '2026-01-02T00:00:00+00:00',
        EmailDoubleOptIn: true,
        CanReceiveEmailMarketing: true,
        SmsConsent: 'UNSUBSCRIBED',
        SmsConsentTimestamp: '2026-01-03T00:00:00+00:00',
        CanReceiveSmsMarketing: false,
        JoinedGroupAt: '2026-01-01T00:00:00+00:00',
      },
    ]);
    expect(calls[0]).toMatchObject({ op: 'get_profiles_for_list', path: { id: 'L1' } });
    expect(calls[0].query).toMatchObject({ filter: "equals(email,'ann@example.com')", 'additional-fields[profile]': 'subscriptions' });
  });
});

describe('PeopleExclusions rows', () => {
  const twoReasons = profile('p1', {
    email: 'ann@example.com',
    subscriptions: {
      email: {
        marketing: {
          suppression: [
            { reason: 'UNSUBSCRIBE', timestamp: '2026-01-01T00:00:00+00:00' },
            { reason: 'HARD_BOUNCE', timestamp: '2026-03-01T00:00:00+00:00' },
          ],
        },
      },
    },
  });
  // As Klaviyo filters: a profile matches a reason's request when any suppression has that reason.
  const script: Script = {
    pages: (op, o) => {
      const reason = /reason,'([A-Z_]+)'/.exec(String(o.query?.filter))![1];
      return reason === 'UNSUBSCRIBE' || reason === 'HARD_BOUNCE' ? [[twoReasons]] : [[]];
    },
  };

  it('one row per suppression, each from its own reason\'s request', async () => {
    const { client, calls } = scripted(script);
    const rows = await rowsOf('people-exclusions', client);
    expect(rows).toEqual([
      { ProfileId: 'p1', Email: 'ann@example.com', Reason: 'HARD_BOUNCE', Timestamp: '2026-03-01T00:00:00+00:00' },
      { ProfileId: 'p1', Email: 'ann@example.com', Reason: 'UNSUBSCRIBE', Timestamp: '2026-01-01T00:00:00+00:00' },
    ]);
    expect(calls).toHaveLength(5);
  });

  it('a Timestamp bound is checked on the suppression itself, not on the profile', async () => {
    const { client } = scripted(script);
    // The UNSUBSCRIBE request returns the profile (its HARD_BOUNCE is recent) but its UNSUBSCRIBE is older.
    const rows = await rowsOf('people-exclusions', client, ['Timestamp >= 2026-02-01'], { columns: ['Reason'] });
    expect(rows).toEqual([{ Reason: 'HARD_BOUNCE' }]);
  });
});

describe('ListExclusions rows', () => {
  it('one row per suppression of the list being read', async () => {
    const p = profile('p1', {
      email: 'ann@example.com',
      subscriptions: {
        email: {
          marketing: {
            list_suppressions: [
              { list_id: 'L1', reason: 'UNSUBSCRIBE', timestamp: '2026-01-01T00:00:00+00:00' },
              { list_id: 'L2', reason: 'UNSUBSCRIBE', timestamp: '2026-02-01T00:00:00+00:00' },
            ],
          },
        },
      },
    });
    const { client, calls } = scripted({
      pages: (op, o) => (op === 'get_lists' ? [[{ type: 'list', id: 'L1' }, { type: 'list', id: 'L2' }, { type: 'list', id: 'L3' }]] : String(o.query?.filter).includes("'L3'") ? [[]] : [[p]]),
    });
    const rows = await rowsOf('list-exclusions', client);
    expect(rows).toEqual([
      { ListId: 'L1', ProfileId: 'p1', Email: 'ann@example.com', Reason: 'UNSUBSCRIBE', Timestamp: '2026-01-01T00:00:00+00:00' },
      { ListId: 'L2', ProfileId: 'p1', Email: 'ann@example.com', Reason: 'UNSUBSCRIBE', Timestamp: '2026-02-01T00:00:00+00:00' },
    ]);
    expect(calls.slice(1).map((c) => c.query?.filter)).toEqual(
      ['L1', 'L2', 'L3'].map((id) => `equals(subscriptions.email.marketing.list_suppressions.list_id,'${id}')`),
    );
  });
});

describe('Events rows', () => {
  const event: JsonApiResource = {
    type: 'event',
    id: 'e1',
    attributes: { datetime: '2026-01-01T10:00:00+00:00', timestamp: 1767261600, event_properties: { $value: 42.5, OrderId: 'o-1' }, uuid: 'u-1' },
    relationships: { metric: { data: { type: 'metric', id: 'm1' } }, profile: { data: { type: 'profile', id: 'p1' } } },
    includedRelationships: {
      metric: { type: 'metric', id: 'm1', attributes: { name: 'Placed Order' } },
      profile: { type: 'profile', id: 'p1', attributes: { email: 'ann@example.com' } },
    },
  };

  it('metric name and email from the included resources, Value from $value', async () => {
    const { client } = scripted({ pages: () => [[event]] });
    const rows = await rowsOf('events', client, ["ProfileId = 'p1'"]);
    expect(rows).toEqual([
      {
        Id: 'e1',
        Datetime: '2026-01-01T10:00:00+00:00',
        Timestamp: 1767261600,
        MetricId: 'm1',
        MetricName: 'Placed Order',
        ProfileId: 'p1',
        Email: 'ann@example.com',
        Value: 42.5,
        Properties: { $value: 42.5, OrderId: 'o-1' },
        Uuid: 'u-1',
      },
    ]);
  });

  it('Properties.<name> reads the event properties, also for a condition on an unexported property', async () => {
    const { client } = scripted({ pages: () => [[event]] });
    expect(await rowsOf('events', client, ["ProfileId = 'p1'"], { columns: ['Id'], properties: ['OrderId'] })).toEqual([
      { Id: 'e1', 'Properties.OrderId': 'o-1' },
    ]);
    expect(await rowsOf('events', client, ["ProfileId = 'p1'", "Properties.OrderId = 'o-1'"], { columns: ['Id'] })).toEqual([{ Id: 'e1' }]);
    expect(await rowsOf('events', client, ["ProfileId = 'p1'", "Properties.OrderId = 'o-2'"], { columns: ['Id'] })).toEqual([]);
  });
});
