/**
 * The plans of the objects with their own reading logic (Campaigns, ListMembers,
 * SegmentMembers, ListSubscribe, PeopleExclusions, ListExclusions, Events): which requests
 * they will send, with which filter strings, what is checked locally, and the usage errors.
 * No request is sent here: plans are pure.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-code.js';
import { selectColumns } from '../../src/objects/columns.js';
import { findObject } from '../../src/objects/registry.js';
import { parseWhere } from '../../src/objects/where.js';
import type { ReadOptions, ReadPlan } from '../../src/objects/types.js';

function planOf(
  object: string,
  where: string[] = [],
  o: { columns?: string[]; options?: ReadOptions; since?: Date; limit?: number; properties?: string[] } = {},
): ReadPlan {
  const def = findObject(object);
  return def.plan({
    columns: selectColumns(def, o.columns, { properties: o.properties }),
    where: where.map((w) => parseWhere(w, def)),
    since: o.since,
    limit: o.limit,
    options: o.options ?? {},
  });
}

const filters = (plan: ReadPlan) => plan.requests.map((r) => r.query.filter);

describe('object names', () => {
  it.each([
    ['campaigns', 'Campaigns'],
    ['Campaign', 'Campaigns'],
    ['list_members', 'ListMembers'],
    ['list-member', 'ListMembers'],
    ['SegmentMembers', 'SegmentMembers'],
    ['segment-member', 'SegmentMembers'],
    ['list-subscribe', 'ListSubscribe'],
    ['people_exclusions', 'PeopleExclusions'],
    ['ListExclusion', 'ListExclusions'],
    ['event', 'Events'],
  ])('%s is %s', (name, canonical) => {
    expect(findObject(name).name).toBe(canonical);
  });

  it('every special object declares key, constraints and reads', () => {
    for (const name of ['Campaigns', 'ListMembers', 'SegmentMembers', 'ListSubscribe', 'PeopleExclusions', 'ListExclusions', 'Events']) {
      const def = findObject(name);
      expect(def.key.length, name).toBeGreaterThan(0);
      for (const k of def.key) expect(def.columns.some((c) => c.name === k), `${name}.${k}`).toBe(true);
      expect(def.constraints.length, name).toBeGreaterThan(0);
      // The operations an object declares are exactly those it has import handlers for.
      expect([...def.operations].sort(), name).toEqual(Object.keys(def.write ?? {}).sort());
      if (def.incremental) expect(def.columns.some((c) => c.name === def.incremental!.column)).toBe(true);
    }
  });
});

describe('Campaigns', () => {
  it('reads each channel, archived ones left out explicitly, messages included', () => {
    const plan = planOf('campaigns');
    expect(plan.requests.map((r) => `${r.method} ${r.path}`)).toEqual(Array(3).fill('GET /api/campaigns'));
    expect(filters(plan)).toEqual([
      "and(equals(messages.channel,'email'),equals(archived,false))",
      "and(equals(messages.channel,'sms'),equals(archived,false))",
      "and(equals(messages.channel,'mobile_push'),equals(archived,false))",
    ]);
    for (const r of plan.requests) {
      expect(r.query.include).toBe('campaign-messages');
      expect(r.query['fields[campaign-message]']).toBe('definition');
      expect(r.query['page[size]']).toBe('100');
    }
    expect(plan.localConditions).toEqual([]);
    expect(plan.notes.join(' ')).toMatch(/--include-archived/);
  });

  it('the default columns are the issue\'s minimum and more', () => {
    const names = selectColumns(findObject('campaigns')).map((c) => c.name);
    for (const n of ['Id', 'Name', 'Status', 'Channel', 'Archived', 'Subject', 'FromEmail', 'TemplateId', 'IncludedListIds', 'CreatedAt', 'UpdatedAt', 'ScheduledAt', 'SendTime', 'PreviewText', 'FromLabel', 'ExcludedListIds', 'SendStrategy', 'SendOptions', 'TrackingOptions', 'Messages']) {
      expect(names).toContain(n);
    }
    expect(names).not.toContain('Tags');
  });

  it('--include-archived adds one request per channel for the archived ones', () => {
    const plan = planOf('campaigns', [], { options: { includeArchived: true } });
    expect(filters(plan)).toEqual([
      "and(equals(messages.channel,'email'),equals(archived,false))",
      "and(equals(messages.channel,'email'),equals(archived,true))",
      "and(equals(messages.channel,'sms'),equals(archived,false))",
      "and(equals(messages.channel,'sms'),equals(archived,true))",
      "and(equals(messages.channel,'mobile_push'),equals(archived,false))",
      "and(equals(messages.channel,'mobile_push'),equals(archived,true))",
    ]);
    expect(plan.requests.map((r) => r.purpose)[1]).toBe('archived email campaigns');
    expect(plan.notes.join(' ')).not.toMatch(/--include-archived/);
  });

  it('Channel conditions choose the channel requests and are not checked again', () => {
    expect(filters(planOf('campaigns', ["Channel = 'email'"]))).toEqual(["and(equals(messages.channel,'email'),equals(archived,false))"]);
    expect(filters(planOf('campaigns', ["Channel = 'EMAIL'"]))).toHaveLength(1);
    expect(filters(planOf('campaigns', ["Channel in ('sms','mobile_push')"]))).toEqual([
      "and(equals(messages.channel,'sms'),equals(archived,false))",
      "and(equals(messages.channel,'mobile_push'),equals(archived,false))",
    ]);
    const notEmail = planOf('campaigns', ["Channel != 'email'"]);
    expect(filters(notEmail)).toHaveLength(2);
    expect(notEmail.localConditions).toEqual([]);
  });

  it('an Archived condition overrides the default', () => {
    expect(filters(planOf('campaigns', ['Archived = true', "Channel = 'sms'"]))).toEqual(["and(equals(messages.channel,'sms'),equals(archived,true))"]);
    expect(filters(planOf('campaigns', ['Archived = false', "Channel = 'sms'"], { options: { includeArchived: true } }))).toEqual([
      "and(equals(messages.channel,'sms'),equals(archived,false))",
    ]);
    const none = planOf('campaigns', ['Archived = true', 'Archived = false']);
    expect(none.requests).toEqual([]);
    expect(none.notes.join(' ')).toMatch(/no campaign to read/);
  });

  it('pushes Status, Name contains and the timestamps down (< checked locally too: less-than may match the bound); --since is UpdatedAt', () => {
    const plan = planOf('campaigns', ["Status in ('Sent','Draft')", "Name contains 'Sale'", 'CreatedAt < 2026-01-01', "Channel = 'email'"], {
      since: new Date('2026-02-03T04:05:06Z'),
    });
    expect(filters(plan)).toEqual([
      "and(equals(messages.channel,'email'),equals(archived,false),any(status,['Sent','Draft']),contains(name,'Sale'),less-than(created_at,2026-01-01T00:00:00Z),greater-or-equal(updated_at,2026-02-03T04:05:06Z))",
    ]);
    expect(plan.localConditions).toEqual([{ column: 'CreatedAt', op: '<', value: '2026-01-01T00:00:00Z' }]);
    expect(findObject('campaigns').incremental).toEqual({ column: 'UpdatedAt', serverSide: true });
  });

  it('Name = is sent as the wider contains and checked exactly by klv', () => {
    const plan = planOf('campaigns', ["Name = 'Summer Sale'", "Channel = 'email'"]);
    expect(filters(plan)).toEqual(["and(equals(messages.channel,'email'),equals(archived,false),contains(name,'Summer Sale'))"]);
    expect(plan.localConditions).toEqual([{ column: 'Name', op: '=', value: 'Summer Sale' }]);
  });

  it('Id = reads one campaign by id, with the archived default checked on the row', () => {
    const plan = planOf('campaigns', ["Id = '01ABC'", "Channel = 'email'"]);
    expect(plan.requests).toHaveLength(1);
    expect(plan.requests[0]).toMatchObject({ operationId: 'get_campaign', path: '/api/campaigns/01ABC' });
    expect(plan.requests[0].query.include).toBe('campaign-messages');
    expect(plan.requests[0].query.filter).toBeUndefined();
    expect(plan.localConditions).toEqual([
      { column: 'Channel', op: '=', value: 'email' },
      { column: 'Archived', op: '=', value: false },
    ]);
    expect(planOf('campaigns', ["Id = '01ABC'"], { options: { includeArchived: true } }).localConditions).toEqual([]);
  });

  it('Id in (...) pushes down as any(id, ...)', () => {
    expect(filters(planOf('campaigns', ["Id in ('a','b')", "Channel = 'sms'"]))).toEqual([
      "and(equals(messages.channel,'sms'),equals(archived,false),any(id,['a','b']))",
    ]);
  });

  it('without message columns, messages are not included; Tags include tags', () => {
    const plain = planOf('campaigns', ["Channel = 'email'"], { columns: ['Id', 'Name', 'Status'] });
    expect(plain.requests[0].query.include).toBeUndefined();
    expect(plain.requests[0].query['fields[campaign]']).toBe('name,status');
    const onlyTemplate = planOf('campaigns', ["Channel = 'email'"], { columns: ['Id', 'TemplateId'] });
    expect(onlyTemplate.requests[0].query['fields[campaign-message]']).toBe('definition.channel');
    const tags = planOf('campaigns', ["Channel = 'email'"], { columns: ['Id', 'Tags'] });
    expect(tags.requests[0].query).toMatchObject({ include: 'tags', 'fields[tag]': 'name' });
  });
});

describe('Flows', () => {
  it('asks for the flows that are not archived explicitly; archived ones are left out and the note says how to add them', () => {
    const plan = planOf('flows');
    expect(filters(plan)).toEqual(['equals(archived,false)']);
    expect(plan.requests.map((r) => [r.operationId, r.purpose])).toEqual([['get_flows', 'every flow not archived']]);
    expect(plan.notes.join(' ')).toMatch(/Archived flows are left out: --include-archived adds them/);
  });

  it('--include-archived (and replicate, and a deletion sweep) reads both, each with its own explicit filter', () => {
    const plan = planOf('flows', [], { options: { includeArchived: true } });
    expect(filters(plan)).toEqual(['equals(archived,false)', 'equals(archived,true)']);
    expect(plan.requests.map((r) => r.purpose)).toEqual(['every flow not archived', 'every archived flow']);
    expect(plan.notes.join(' ')).not.toMatch(/--include-archived/);
    const keysOnly = planOf('flows', [], { columns: ['Id'], options: { includeArchived: true } });
    expect(filters(keysOnly)).toEqual(['equals(archived,false)', 'equals(archived,true)']);
  });

  it('Archived conditions choose the requests; other conditions and --since are pushed down in each', () => {
    expect(filters(planOf('flows', ['Archived = true']))).toEqual(['equals(archived,true)']);
    expect(filters(planOf('flows', ['Archived = false'], { options: { includeArchived: true } }))).toEqual(['equals(archived,false)']);
    expect(filters(planOf('flows', ['Archived != false']))).toEqual(['equals(archived,true)']);
    const none = planOf('flows', ['Archived = true', 'Archived = false']);
    expect(none.requests).toEqual([]);
    expect(none.notes.join(' ')).toMatch(/leave no flow to read/);
    const since = new Date('2026-02-03T04:05:06Z');
    expect(filters(planOf('flows', ["Status = 'live'"], { since, options: { includeArchived: true } }))).toEqual([
      "and(equals(archived,false),equals(status,'live'),greater-or-equal(updated,2026-02-03T04:05:06Z))",
      "and(equals(archived,true),equals(status,'live'),greater-or-equal(updated,2026-02-03T04:05:06Z))",
    ]);
    expect(planOf('flows', ['Archived = true']).localConditions).toEqual([]);
  });

  it('Id = reads one flow by id, with the archived default checked on the row', () => {
    const plan = planOf('flows', ["Id = 'F1'"]);
    expect(plan.requests.map((r) => [r.operationId, r.path])).toEqual([['get_flow', '/api/flows/F1']]);
    expect(plan.localConditions).toEqual([{ column: 'Archived', op: '=', value: false }]);
    expect(planOf('flows', ["Id = 'F1'"], { options: { includeArchived: true } }).localConditions).toEqual([]);
  });

  it('Definition: one request per flow, listed once, whichever archived requests there are', () => {
    const plan = planOf('flows', [], { columns: ['Id', 'Definition'], options: { includeArchived: true } });
    expect(plan.requests.map((r) => `${r.operationId} ${r.query.filter ?? ''}`.trim())).toEqual(['get_flows equals(archived,false)', 'get_flows equals(archived,true)', 'get_flow']);
  });
});

describe('ListMembers and SegmentMembers', () => {
  // One cursor per group: what every read of a small group, or a narrowed read, looks like.
  const one: ReadOptions = { parallelism: 1 };

  it('without ListId: every list from GET /api/lists, then one request family per list', () => {
    const plan = planOf('list-members', [], { options: one });
    expect(plan.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /api/lists', 'GET /api/lists/{id}/profiles']);
    expect(plan.requests[0].query).toEqual({ 'fields[list]': 'name', 'page[size]': '10' });
    expect(plan.requests[1].repeat).toBeNull();
    expect(plan.requests[1].query).toMatchObject({
      sort: 'joined_group_at',
      'page[size]': '100',
      'fields[profile]': 'email,external_id,first_name,joined_group_at,last_name,phone_number',
    });
    expect(plan.localConditions).toEqual([]);
  });

  it('a large read: each list in JoinedGroupAt slices, several cursors at once', () => {
    const plan = planOf('list-members', ["ListId = 'a'"]);
    expect(plan.requests.map((r) => `${r.path} ${r.query.sort}`)).toEqual([
      '/api/lists/a/profiles joined_group_at',
      '/api/lists/a/profiles -joined_group_at',
      '/api/lists/a/profiles joined_group_at',
    ]);
    expect(plan.requests[2].query.filter).toBe('and(greater-than(joined_group_at,<slice start − 1 s>),less-than(joined_group_at,<slice end + 1 s>))');
    expect(plan.notes.join(' ')).toMatch(/time slices of JoinedGroupAt/);
    const every = planOf('list-members');
    expect(every.requests.map((r) => r.path)).toEqual(['/api/lists', '/api/lists/{id}/profiles', '/api/lists/{id}/profiles', '/api/lists/{id}/profiles']);
    expect(every.requests.slice(1).every((r) => r.repeat === null)).toBe(true);
  });

  it('a read narrowed by an email, or a small --limit, stays on one cursor', () => {
    expect(planOf('list-members', ["ListId = 'a'", "Email = 'ann@example.com'"]).requests).toHaveLength(1);
    expect(planOf('list-members', ["ListId = 'a'"], { limit: 50 }).requests).toHaveLength(1);
  });

  it('ListId = and in name the lists; Email and JoinedGroupAt push down', () => {
    const single = planOf('list-members', ["ListId = 'Y6nRLr'", "Email = 'ann@example.com'", 'JoinedGroupAt >= 2026-01-01']);
    expect(single.requests.map((r) => r.path)).toEqual(['/api/lists/Y6nRLr/profiles']);
    expect(filters(single)).toEqual(["and(equals(email,'ann@example.com'),greater-or-equal(joined_group_at,2026-01-01T00:00:00Z))"]);
    expect(single.localConditions).toEqual([]);
    const two = planOf('list-members', ["ListId in ('a','b')"], { options: one });
    expect(two.requests.map((r) => r.path)).toEqual(['/api/lists/a/profiles', '/api/lists/b/profiles']);
  });

  it('several ListId conditions are intersected', () => {
    expect(planOf('list-members', ["ListId in ('a','b')", "ListId = 'b'"], { options: one }).requests.map((r) => r.path)).toEqual([
      '/api/lists/b/profiles',
    ]);
    const none = planOf('list-members', ["ListId = 'a'", "ListId = 'b'"]);
    expect(none.requests).toEqual([]);
    expect(none.notes.join(' ')).toMatch(/no list in common/);
  });

  it('ListId != is decided per list, before its members are read', () => {
    const plan = planOf('list-members', ["ListId != 'a'"], { options: one });
    expect(plan.requests.map((r) => r.path)).toEqual(['/api/lists', '/api/lists/{id}/profiles']);
    expect(plan.localConditions).toEqual([{ column: 'ListId', op: '!=', value: 'a' }]);
  });

  it('--since filters JoinedGroupAt on the server', () => {
    const plan = planOf('list-members', ["ListId = 'a'"], { since: new Date('2026-03-01T00:00:00Z'), options: one });
    expect(filters(plan)).toEqual(['greater-or-equal(joined_group_at,2026-03-01T00:00:00Z)']);
  });

  it('ProfileId: the segment endpoint filters it, the list endpoint does not', () => {
    const seg = planOf('segment-members', ["SegmentId = 's1'", "ProfileId = 'p1'"]);
    expect(seg.requests.map((r) => r.path)).toEqual(['/api/segments/s1/profiles']);
    expect(filters(seg)).toEqual(["equals(profile_id,'p1')"]);
    expect(seg.localConditions).toEqual([]);
    const list = planOf('list-members', ["ListId = 'l1'", "ProfileId = 'p1'"], { options: one });
    expect(filters(list)).toEqual([undefined]);
    expect(list.localConditions).toEqual([{ column: 'ProfileId', op: '=', value: 'p1' }]);
  });

  it('without SegmentId: every segment', () => {
    expect(planOf('segment-members', [], { options: one }).requests.map((r) => r.path)).toEqual(['/api/segments', '/api/segments/{id}/profiles']);
  });

  it('keys and incremental columns', () => {
    expect(findObject('list-members').key).toEqual(['ListId', 'ProfileId']);
    expect(findObject('segment-members').key).toEqual(['SegmentId', 'ProfileId']);
    expect(findObject('list-members').incremental).toEqual({ column: 'JoinedGroupAt', serverSide: true });
  });
});

describe('ListSubscribe', () => {
  const usageErrorOf = (where: string[]) => {
    try {
      planOf('list-subscribe', where);
    } catch (err) {
      return err as UsageError;
    }
    throw new Error('expected a usage error');
  };

  it('without Email or PhoneNumber: a usage error (exit 2) saying what to add', () => {
    const err = usageErrorOf([]);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.exitCode).toBe(ExitCode.Usage);
    expect(err.message).toMatch(/Email or PhoneNumber/);
    expect(err.hint).toContain(`--where "Email = 'ann@example.com'"`);
    expect(err.hint).toMatch(/ListId/);
  });

  it('an Email condition Klaviyo cannot filter on is not enough', () => {
    expect(usageErrorOf(["Email contains 'example.com'"])).toBeInstanceOf(UsageError);
    expect(usageErrorOf(["ListId = 'a'"])).toBeInstanceOf(UsageError);
  });

  it('looks the people up in every list, with their subscriptions', () => {
    const plan = planOf('list-subscribe', ["Email = 'ann@example.com'"]);
    expect(plan.requests.map((r) => r.path)).toEqual(['/api/lists', '/api/lists/{id}/profiles']);
    expect(plan.requests[1].query).toMatchObject({ filter: "equals(email,'ann@example.com')", 'additional-fields[profile]': 'subscriptions' });
    expect(plan.requests[1].query['fields[profile]']).toContain('subscriptions.email.marketing.consent');
  });

  it('PhoneNumber in (...) and a ListId', () => {
    const plan = planOf('list-subscribe', ["PhoneNumber in ('+15005550006','+15005550007')", "ListId = 'a'"]);
    expect(plan.requests.map((r) => r.path)).toEqual(['/api/lists/a/profiles']);
    expect(filters(plan)).toEqual(["any(phone_number,['+15005550006','+15005550007'])"]);
  });

  it('only the columns asked for: no subscriptions without consent columns', () => {
    const plan = planOf('list-subscribe', ["Email = 'ann@example.com'", "ListId = 'a'"], { columns: ['ListId', 'Email'] });
    expect(plan.requests[0].query['additional-fields[profile]']).toBeUndefined();
  });
});

describe('PeopleExclusions', () => {
  it('one request per suppression reason, email and suppressions only', () => {
    const plan = planOf('people-exclusions');
    expect(filters(plan)).toEqual(
      ['HARD_BOUNCE', 'INVALID_EMAIL', 'SPAM_COMPLAINT', 'UNSUBSCRIBE', 'USER_SUPPRESSED'].map(
        (r) => `equals(subscriptions.email.marketing.suppression.reason,'${r}')`,
      ),
    );
    for (const r of plan.requests) {
      expect(r.path).toBe('/api/profiles');
      expect(r.query).toMatchObject({
        'fields[profile]': 'email,subscriptions.email.marketing.suppression',
        'additional-fields[profile]': 'subscriptions',
      });
    }
  });

  it('Reason conditions choose the reasons', () => {
    expect(planOf('people-exclusions', ["Reason = 'unsubscribe'"]).requests).toHaveLength(1);
    expect(filters(planOf('people-exclusions', ["Reason in ('HARD_BOUNCE','SPAM_COMPLAINT')"]))).toEqual([
      "equals(subscriptions.email.marketing.suppression.reason,'HARD_BOUNCE')",
      "equals(subscriptions.email.marketing.suppression.reason,'SPAM_COMPLAINT')",
    ]);
    const notUnsub = planOf('people-exclusions', ["Reason != 'UNSUBSCRIBE'"]);
    expect(notUnsub.requests).toHaveLength(4);
    expect(notUnsub.localConditions).toEqual([]);
  });

  it('Timestamp (and --since) push down and are checked on each suppression too', () => {
    const plan = planOf('people-exclusions', ["Reason = 'HARD_BOUNCE'", "Email = 'ann@example.com'"], { since: new Date('2026-01-02T00:00:00Z') });
    expect(filters(plan)).toEqual([
      "and(equals(subscriptions.email.marketing.suppression.reason,'HARD_BOUNCE'),equals(email,'ann@example.com'),greater-or-equal(subscriptions.email.marketing.suppression.timestamp,2026-01-02T00:00:00Z))",
    ]);
    expect(plan.localConditions).toEqual([{ column: 'Timestamp', op: '>=', value: '2026-01-02T00:00:00Z' }]);
  });
});

describe('ListExclusions', () => {
  it('without ListId: every list, then profiles filtered on each list\'s suppressions', () => {
    const plan = planOf('list-exclusions');
    expect(plan.requests.map((r) => r.path)).toEqual(['/api/lists', '/api/profiles']);
    expect(plan.requests[1].query).toMatchObject({
      filter: "equals(subscriptions.email.marketing.list_suppressions.list_id,'{id}')",
      'additional-fields[profile]': 'subscriptions',
      'fields[profile]': 'email,subscriptions.email.marketing.list_suppressions',
    });
    expect(plan.requests[1].repeat).toBeNull();
  });

  it('ListId names the lists; Reason and Timestamp push down and are rechecked', () => {
    const plan = planOf('list-exclusions', ["ListId in ('L1','L2')", "Reason = 'UNSUBSCRIBE'", 'Timestamp < 2026-01-01']);
    expect(filters(plan)).toEqual(
      ['L1', 'L2'].map(
        (id) =>
          `and(equals(subscriptions.email.marketing.list_suppressions.list_id,'${id}'),equals(subscriptions.email.marketing.list_suppressions.reason,'UNSUBSCRIBE'),less-than(subscriptions.email.marketing.list_suppressions.timestamp,2026-01-01T00:00:00Z))`,
      ),
    );
    expect(plan.localConditions.map((c) => c.column).sort()).toEqual(['Reason', 'Timestamp']);
  });
});

describe('Events', () => {
  it('MetricId and ProfileId push down; metric and profile included only for their columns', () => {
    const plan = planOf('events', ["MetricId = 'm1'", "ProfileId = 'p1'"], { columns: ['Id', 'Datetime', 'MetricName'] });
    expect(plan.requests).toHaveLength(1);
    expect(plan.requests[0]).toMatchObject({ path: '/api/events' });
    expect(plan.requests[0].query).toEqual({
      filter: "and(equals(metric_id,'m1'),equals(profile_id,'p1'))",
      include: 'metric',
      'fields[metric]': 'name',
      'fields[event]': 'datetime',
      sort: 'datetime',
      'page[size]': '1000',
    });
    const plain = planOf('events', ["ProfileId = 'p1'"], { columns: ['Id', 'Value'] });
    expect(plain.requests[0].query.include).toBeUndefined();
    expect(plain.requests[0].query['fields[event]']).toBe('event_properties');
  });

  it('one metric can hold millions of events: a MetricId read is partitioned on Datetime, every slice filtered by the metric', () => {
    const plan = planOf('events', ["MetricId = 'm1'"], { columns: ['Id', 'Value'] });
    expect(plan.requests.length).toBeGreaterThan(1);
    for (const f of filters(plan)) expect(f).toContain("equals(metric_id,'m1')");
    expect(plan.requests.at(-1)!.query.filter).toContain('<slice start');
  });

  it('all columns: include=metric,profile with the metric name and the profile email only', () => {
    const plan = planOf('events', ["MetricId = 'm1'"]);
    expect(plan.requests[0].query).toMatchObject({ include: 'metric,profile', 'fields[metric]': 'name', 'fields[profile]': 'email' });
  });

  it('a MetricName condition includes the metric although the column is not exported', () => {
    const plan = planOf('events', ["MetricName = 'Placed Order'", "ProfileId = 'p1'"], { columns: ['Id'] });
    expect(plan.requests[0].query.include).toBe('metric');
    expect(plan.localConditions).toEqual([{ column: 'MetricName', op: '=', value: 'Placed Order' }]);
  });

  it('--since and Datetime comparisons filter datetime on the server (< checked locally too)', () => {
    const plan = planOf('events', ["ProfileId = 'p1'", 'Datetime < 2026-02-01'], { since: new Date('2026-01-01T00:00:00Z'), columns: ['Id'] });
    expect(filters(plan)).toEqual(["and(equals(profile_id,'p1'),less-than(datetime,2026-02-01T00:00:00Z),greater-or-equal(datetime,2026-01-01T00:00:00Z))"]);
    expect(plan.localConditions).toEqual([{ column: 'Datetime', op: '<', value: '2026-02-01T00:00:00Z' }]);
  });

  it('Id = reads one event by id', () => {
    const plan = planOf('events', ["Id = 'e1'"]);
    expect(plan.requests[0]).toMatchObject({ operationId: 'get_event', path: '/api/events/e1' });
  });

  it('--properties reads event_properties', () => {
    const plan = planOf('events', ["ProfileId = 'p1'"], { columns: ['Id'], properties: ['OrderId'] });
    expect(plan.requests[0].query['fields[event]']).toBe('event_properties');
  });
});
