/**
 * The objects with their own reading logic, read from the demo emulator over loopback with the
 * real client: every row must be exactly what the emulator's account holds. The expected rows
 * are computed from the store itself (memberships, profile subscriptions, campaign messages),
 * not through klv's readers, and every exchange is checked against Klaviyo's OpenAPI spec. The
 * emulator's clock is pinned (NOW), and the --since bounds are taken from it: the demo account
 * is the same on every day the test runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import type { KlaviyoClient } from '../../src/klaviyo/client.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { createDemoStore } from '../../src/emulator/demo-data/index.js';
import type { StoredResource } from '../../src/emulator/store/types.js';
import { selectColumns } from '../../src/objects/columns.js';
import { findObject } from '../../src/objects/registry.js';
import { parseWhere } from '../../src/objects/where.js';
import type { ReadOptions, Row } from '../../src/objects/types.js';
import { cleanEnv, runKlv } from '../helpers/cli.js';
import { emulatorWithClient } from '../helpers/emulator-api.js';
import { withRecording } from '../helpers/recording.js';

const recording = withRecording();
let emulator: RunningEmulator;
let client: KlaviyoClient;
let closeAll: () => Promise<void>;
/** The emulator's "now": the demo account's times are derived from it. */
const NOW = Date.parse('2026-07-15T12:00:00Z');

beforeAll(async () => {
  ({ emulator, client, close: closeAll } = await emulatorWithClient({ data: 'demo', rateLimits: 'off', record: recording.file, clock: () => new Date(NOW) }));
});
afterAll(() => closeAll?.());

async function exportRows(
  object: string,
  where: string[] = [],
  o: { columns?: string[]; options?: ReadOptions; since?: Date; limit?: number } = {},
): Promise<{ rows: Row[]; requests: number }> {
  const def = findObject(object);
  const plan = def.plan({
    columns: selectColumns(def, o.columns),
    where: where.map((w) => parseWhere(w, def)),
    since: o.since,
    limit: o.limit,
    options: o.options ?? {},
  });
  const before = client.stats().requests;
  const rows: Row[] = [];
  for await (const row of plan.execute(client)) rows.push(row);
  return { rows, requests: client.stats().requests - before };
}

const ms = (v: unknown) => (v === null || v === undefined ? null : Date.parse(String(v)));
const sorted = (keys: string[]) => [...keys].sort();
const store = () => emulator.store;
const all = (type: string): StoredResource[] => [...store().collection(type).values()];
const profile = (id: string) => store().collection('profile').get(id)!;

type Marketing = {
  consent?: string;
  consent_timestamp?: string | null;
  double_optin?: boolean | null;
  can_receive_email_marketing?: boolean;
  can_receive_sms_marketing?: boolean;
  suppression?: Array<{ reason: string; timestamp: string }>;
  list_suppressions?: Array<{ list_id: string; reason: string; timestamp: string }>;
};
const emailMarketing = (p: StoredResource): Marketing =>
  ((p.attributes.subscriptions as { email?: { marketing?: Marketing } } | null)?.email?.marketing ?? {}) as Marketing;
const smsMarketing = (p: StoredResource): Marketing =>
  ((p.attributes.subscriptions as { sms?: { marketing?: Marketing } | null } | null)?.sms?.marketing ?? {}) as Marketing;

describe('Campaigns', () => {
  const messageOf = (campaign: StoredResource) => {
    const refs = campaign.relationships['campaign-messages'] as Array<{ id: string }>;
    return store().collection('campaign-message').get(refs[0].id)!;
  };

  it('without --include-archived: exactly the campaigns that are not archived, on every channel', async () => {
    const { rows, requests } = await exportRows('campaigns');
    const expected = all('campaign').filter((c) => c.attributes.archived === false);
    expect(expected).toHaveLength(25);
    expect(sorted(rows.map((r) => String(r.Id)))).toEqual(sorted(expected.map((c) => c.id)));
    expect(requests).toBe(3);
    for (const row of rows) {
      const c = store().collection('campaign').get(String(row.Id))!;
      const m = messageOf(c);
      const def = m.attributes.definition as { channel: string; content: Record<string, unknown> };
      expect(row).toMatchObject({ Name: c.attributes.name, Status: c.attributes.status, Archived: false, Channel: def.channel });
      expect(row.Subject).toEqual(def.content.subject ?? null);
      expect(row.FromEmail).toEqual(def.content.from_email ?? null);
      expect(row.TemplateId).toEqual((m.relationships.template as { id: string } | null)?.id ?? null);
      expect(row.IncludedListIds).toEqual((c.attributes.audiences as { included: string[] }).included);
      expect(ms(row.UpdatedAt)).toBe(ms(c.attributes.updated_at));
      expect((row.Messages as unknown[]).length).toBe((c.relationships['campaign-messages'] as unknown[]).length);
    }
    expect(new Set(rows.map((r) => r.Channel))).toEqual(new Set(['email', 'sms', 'mobile_push']));
  });

  it('with --include-archived: every campaign; Channel narrows to one request', async () => {
    const { rows } = await exportRows('campaigns', [], { options: { includeArchived: true }, columns: ['Id', 'Archived'] });
    expect(sorted(rows.map((r) => String(r.Id)))).toEqual(sorted(all('campaign').map((c) => c.id)));
    expect(rows.some((r) => r.Archived === true)).toBe(true);

    const sms = await exportRows('campaigns', ["Channel = 'sms'"], { columns: ['Id'] });
    const expected = all('campaign').filter(
      (c) => !c.attributes.archived && (messageOf(c).attributes.definition as { channel: string }).channel === 'sms',
    );
    expect(sorted(sms.rows.map((r) => String(r.Id)))).toEqual(sorted(expected.map((c) => c.id)));
    expect(sms.requests).toBe(1);
  });

  it('Id = reads one campaign with one request', async () => {
    const c = all('campaign').find((x) => !x.attributes.archived)!;
    const { rows, requests } = await exportRows('campaigns', [`Id = '${c.id}'`], { columns: ['Id', 'Name', 'Subject'] });
    expect(rows).toEqual([{ Id: c.id, Name: c.attributes.name, Subject: (messageOf(c).attributes.definition as { content: { subject?: string } }).content.subject ?? null }]);
    expect(requests).toBe(1);
  });
});

describe('ListMembers and SegmentMembers', () => {
  const memberKeys = (membership: Map<string, Map<string, string>>) => {
    const keys: string[] = [];
    for (const [groupId, members] of membership) for (const [profileId, joined] of members) keys.push(`${groupId}/${profileId}/${ms(joined)}`);
    return keys;
  };

  it('every list: exactly the memberships of the store', async () => {
    const { rows } = await exportRows('list-members');
    expect(sorted(rows.map((r) => `${r.ListId}/${r.ProfileId}/${ms(r.JoinedGroupAt)}`))).toEqual(sorted(memberKeys(store().listMembers)));
    const sample = rows[0];
    expect(sample.Email).toBe(profile(String(sample.ProfileId)).attributes.email);
  });

  it('one list and an email: one request, the one member', async () => {
    const [listId, members] = [...store().listMembers][0];
    const profileId = [...members.keys()][5];
    const email = profile(profileId).attributes.email as string;
    const { rows, requests } = await exportRows('list-members', [`ListId = '${listId}'`, `Email = '${email}'`], { columns: ['ListId', 'ProfileId'] });
    expect(rows).toEqual([{ ListId: listId, ProfileId: profileId }]);
    expect(requests).toBe(1);
  });

  it('--since keeps the members who joined since then', async () => {
    const since = new Date(NOW - 200 * 86_400_000);
    const { rows } = await exportRows('list-members', [], { since, columns: ['ListId', 'ProfileId'] });
    const expected: string[] = [];
    for (const [listId, members] of store().listMembers) {
      for (const [profileId, joined] of members) if (ms(joined)! >= since.getTime()) expected.push(`${listId}/${profileId}`);
    }
    expect(expected.length).toBeGreaterThan(0);
    expect(sorted(rows.map((r) => `${r.ListId}/${r.ProfileId}`))).toEqual(sorted(expected));
  });

  it('every segment: exactly the segment memberships of the store', async () => {
    const { rows } = await exportRows('segment-members');
    expect(sorted(rows.map((r) => `${r.SegmentId}/${r.ProfileId}/${ms(r.JoinedGroupAt)}`))).toEqual(sorted(memberKeys(store().segmentMembers)));
  });
});

describe('ListSubscribe', () => {
  it('needs an Email or PhoneNumber: a usage error before any request', () => {
    const def = findObject('list-subscribe');
    expect(() => def.plan({ columns: selectColumns(def), where: [], options: {} })).toThrow(UsageError);
  });

  it('the consent of a person in each list they are in', async () => {
    // Someone in two lists or more.
    const counts = new Map<string, string[]>();
    for (const [listId, members] of store().listMembers) for (const id of members.keys()) counts.set(id, [...(counts.get(id) ?? []), listId]);
    const [profileId, lists] = [...counts].find(([, l]) => l.length >= 2)!;
    const p = profile(profileId);
    const { rows } = await exportRows('list-subscribe', [`Email = '${p.attributes.email as string}'`]);
    expect(sorted(rows.map((r) => String(r.ListId)))).toEqual(sorted(lists));
    const email = emailMarketing(p);
    const sms = smsMarketing(p);
    for (const row of rows) {
      expect(row).toMatchObject({
        ProfileId: profileId,
        Email: p.attributes.email,
        EmailConsent: email.consent,
        EmailDoubleOptIn: email.double_optin ?? null,
        CanReceiveEmailMarketing: email.can_receive_email_marketing,
        SmsConsent: sms.consent ?? null,
        CanReceiveSmsMarketing: sms.can_receive_sms_marketing ?? null,
      });
      expect(ms(row.EmailConsentTimestamp)).toBe(ms(email.consent_timestamp));
      expect(ms(row.JoinedGroupAt)).toBe(ms(store().listMembers.get(String(row.ListId))!.get(profileId)));
    }
  });
});

describe('PeopleExclusions and ListExclusions', () => {
  it('every global suppression of every profile, one row each', async () => {
    const { rows } = await exportRows('people-exclusions');
    const expected: string[] = [];
    for (const p of all('profile')) {
      for (const s of emailMarketing(p).suppression ?? []) expected.push(`${p.id}/${p.attributes.email as string}/${s.reason}/${ms(s.timestamp)}`);
    }
    expect(expected.length).toBeGreaterThan(0);
    expect(sorted(rows.map((r) => `${r.ProfileId}/${r.Email}/${r.Reason}/${ms(r.Timestamp)}`))).toEqual(sorted(expected));
  });

  it('Reason and --since', async () => {
    const since = new Date(NOW - 120 * 86_400_000);
    const { rows, requests } = await exportRows('people-exclusions', ["Reason = 'HARD_BOUNCE'"], { since, columns: ['ProfileId', 'Timestamp'] });
    const expected: string[] = [];
    for (const p of all('profile')) {
      for (const s of emailMarketing(p).suppression ?? []) if (s.reason === 'HARD_BOUNCE' && ms(s.timestamp)! >= since.getTime()) expected.push(p.id);
    }
    expect(sorted(rows.map((r) => String(r.ProfileId)))).toEqual(sorted(expected));
    expect(requests).toBeGreaterThanOrEqual(1);
  });

  it('every list suppression of every profile, one row each', async () => {
    const { rows } = await exportRows('list-exclusions');
    const expected: string[] = [];
    for (const p of all('profile')) {
      for (const s of emailMarketing(p).list_suppressions ?? []) expected.push(`${s.list_id}/${p.id}/${s.reason}/${ms(s.timestamp)}`);
    }
    expect(expected.length).toBeGreaterThan(0);
    expect(sorted(rows.map((r) => `${r.ListId}/${r.ProfileId}/${r.Reason}/${ms(r.Timestamp)}`))).toEqual(sorted(expected));
  });
});

describe('Events', () => {
  it('every event, with its metric name and profile email', async () => {
    const { rows } = await exportRows('events');
    const events = all('event');
    expect(rows).toHaveLength(events.length);
    expect(sorted(rows.map((r) => String(r.Id)))).toEqual(sorted(events.map((e) => e.id)));
    const metrics = new Map(all('metric').map((m) => [m.id, m.attributes.name]));
    const byId = new Map(events.map((e) => [e.id, e]));
    for (const row of rows.slice(0, 300)) {
      const e = byId.get(String(row.Id))!;
      const metricId = (e.relationships.metric as { id: string }).id;
      const profileId = (e.relationships.profile as { id: string }).id;
      expect(row).toMatchObject({ MetricId: metricId, MetricName: metrics.get(metricId), ProfileId: profileId, Email: profile(profileId).attributes.email });
      expect(row.Properties).toEqual(e.attributes.event_properties);
      expect(row.Value).toEqual((e.attributes.event_properties as { $value?: number }).$value ?? null);
      expect(ms(row.Datetime)).toBe(ms(e.attributes.datetime));
    }
  });

  it('MetricId and --since push down: only those events', async () => {
    const metric = all('metric').find((m) => m.attributes.name === 'Placed Order')!;
    const since = new Date(NOW - 365 * 86_400_000);
    const { rows, requests } = await exportRows('events', [`MetricId = '${metric.id}'`], { since, columns: ['Id'] });
    const expected = all('event').filter((e) => (e.relationships.metric as { id: string }).id === metric.id && ms(e.attributes.datetime)! >= since.getTime());
    expect(expected.length).toBeGreaterThan(0);
    expect(sorted(rows.map((r) => String(r.Id)))).toEqual(sorted(expected.map((e) => e.id)));
    expect(requests).toBe(Math.max(1, Math.ceil(expected.length / 1000)));
  });
});

describe('every exchange', () => {
  it('stayed within the spec', async () => {
    // Every line is on disk once the emulator has closed.
    await closeAll();
    recording.expectConformant({ minExchanges: 20 });
  });
});

describe('klv export (the CLI) for ListSubscribe', () => {
  it('without an Email: exit 2 saying what to add, nothing sent', async () => {
    const r = await runKlv(['export', 'list-subscribe', '--demo'], { env: cleanEnv() });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`--where "Email = 'ann@example.com'"`);
  });

  it('with an Email: the person\'s lists, exit 0', async () => {
    // The account `--demo` serves: startEmulator's demo with its default seed (1).
    const demo = createDemoStore({ seed: 1 });
    const [listId, members] = [...demo.listMembers][0];
    const email = demo.collection('profile').get([...members.keys()][0])!.attributes.email as string;
    const r = await runKlv(['export', 'list-subscribe', '--demo', '--where', `Email = '${email}'`, '--format', 'ndjson'], { env: cleanEnv() });
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Row);
    expect(rows.map((x) => x.ListId)).toContain(listId);
    expect(rows.every((x) => x.Email === email)).toBe(true);
  });
});
