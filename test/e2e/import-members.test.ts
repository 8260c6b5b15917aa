/**
 * ListMembers, ListSubscribe and PeopleExclusions imports end to end against the emulator's
 * demo account (the operations table, its rows for these objects): first the handlers
 * called directly with a real client, then `klv import` as users run it (the built CLI in a
 * child process) with its success and error logs. What Klaviyo ends up holding is read back
 * through the API; every exchange is checked against Klaviyo's OpenAPI spec.
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { systemClock } from '../../src/core/clock.js';
import { Secret } from '../../src/core/secret.js';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { KlaviyoClient, type JsonApiResource } from '../../src/klaviyo/client.js';
import { buildFilter, filter as f } from '../../src/klaviyo/filter-builder.js';
import { ListMembers } from '../../src/objects/catalog/list-members.js';
import { ListSubscribe } from '../../src/objects/catalog/list-subscribe.js';
import { PeopleExclusions } from '../../src/objects/catalog/people-exclusions.js';
import type { ImportOptions, ImportRow, OperationHandler, RowOutcome, WriteContext } from '../../src/objects/write/types.js';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { emulatorWithClient } from '../helpers/emulator-api.js';
import { writeContext } from '../helpers/mock-klaviyo.js';
import { withRecording } from '../helpers/recording.js';

const KEY = 'pk_members_e2e_0123456789abcdef0123';

const recording = withRecording();
let emulator: RunningEmulator;
let client: KlaviyoClient;
let closeAll: () => Promise<void>;
let root: string;
/** Demo list ids by name. */
const lists: Record<string, string> = {};

beforeAll(async () => {
  ({ emulator, client, close: closeAll } = await emulatorWithClient({ data: 'demo', profiles: 400, rateLimits: 'off', seed: 3, record: recording.file }, { apiKey: new Secret(KEY) }));
  for await (const l of client.paginate('get_lists')) lists[String(l.attributes?.name)] = l.id;
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-members-')));
  mkdirSync(join(root, 'work'));
});

afterAll(async () => {
  await closeAll?.();
  if (root) rmSync(root, { recursive: true, force: true });
});

function ctx(options: ImportOptions = {}): WriteContext {
  return writeContext(client, systemClock, options);
}

const row = (rowNumber: number, values: Record<string, unknown>): ImportRow => ({ rowNumber, values });

async function run(h: OperationHandler, rows: ImportRow[], options: ImportOptions = {}): Promise<RowOutcome[]> {
  const out: RowOutcome[] = [];
  const valid = rows.filter((r) => {
    const invalid = h.validateRow?.(r, options);
    if (invalid) out.push(invalid);
    return !invalid;
  });
  if (valid.length > 0) out.push(...(await h.processBatch(valid, ctx(options))));
  expect(out).toHaveLength(rows.length);
  return out.sort((a, b) => a.rowNumber - b.rowNumber);
}

const status = (o: RowOutcome) => (o.ok ? o.status : `failed:${o.code}`);

async function members(listId: string, emails: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const filter = buildFilter('get_profiles_for_list', f.any('email', emails));
  for await (const p of client.paginate('get_profiles_for_list', { pathParams: { id: listId }, query: { filter } })) found.add(String(p.attributes?.email));
  return found;
}

async function profileByEmail(email: string): Promise<JsonApiResource | undefined> {
  const filter = buildFilter('get_profiles', f.equals('email', email));
  for await (const p of client.paginate('get_profiles', { query: { filter, 'additional-fields[profile]': 'subscriptions' } })) return p;
  return undefined;
}

/** Profiles with an email that are not in the list (read from the first pages of profiles). */
async function nonMembers(listId: string, n: number): Promise<JsonApiResource[]> {
  const out: JsonApiResource[] = [];
  for await (const p of client.paginate('get_profiles', { query: { 'fields[profile]': 'email,phone_number' } })) {
    if (!p.attributes?.email) continue;
    if ((await members(listId, [String(p.attributes.email)])).size > 0) continue;
    out.push(p);
    if (out.length === n) break;
  }
  return out;
}

async function firstMembers(listId: string, n: number): Promise<JsonApiResource[]> {
  const out: JsonApiResource[] = [];
  for await (const p of client.paginate('get_profiles_for_list', { pathParams: { id: listId } })) {
    if (p.attributes?.email) out.push(p);
    if (out.length === n) break;
  }
  return out;
}

describe('handlers against the emulator', () => {
  it('ListMembers insert: adds non-members, creates new people in the list, never adds a member twice', async () => {
    const vip = lists['VIP Customers'];
    const [outsider] = await nonMembers(vip, 1);
    const [member, member2] = await firstMembers(vip, 2);
    const out = await run(ListMembers.write!.insert!, [
      row(1, { ListId: vip, Email: outsider.attributes!.email }),
      row(2, { ListId: vip, Email: 'brand.new.member@example.com', FirstName: 'Brand' }),
      row(3, { ListId: vip, Email: member.attributes!.email }),
      row(4, { ListId: vip, ProfileId: member2.id, PhoneNumber: '+15005550777' }),
      row(5, { ListId: 'NoSuchList', Email: 'x@example.com' }),
    ]);
    expect(out.map(status)).toEqual(['added', 'created', 'unchanged', 'updated', 'failed:not_found']);
    expect(await members(vip, [String(outsider.attributes!.email), 'brand.new.member@example.com'])).toEqual(
      new Set([String(outsider.attributes!.email), 'brand.new.member@example.com']),
    );
    expect((await profileByEmail(String(member2.attributes!.email)))!.attributes!.phone_number).toBe('+15005550777');
  });

  it('ListMembers insert by ExternalId alone: created, then added to another list, then unchanged there', async () => {
    const first = await run(ListMembers.write!.insert!, [row(1, { ListId: lists['VIP Customers'], ExternalId: 'EXT-ONLY-1' })]);
    expect(first.map(status)).toEqual(['created']);
    const again = [row(1, { ListId: lists['Winback'], ExternalId: 'EXT-ONLY-1' })];
    const added = await run(ListMembers.write!.insert!, again);
    expect(added.map(status)).toEqual(['added']);
    expect(added[0]).toMatchObject({ id: first[0].ok ? first[0].id : 'none' });
    // No email or phone to filter the list's members by: its lists are read instead.
    expect((await run(ListMembers.write!.insert!, again)).map(status)).toEqual(['unchanged']);
  });

  it('ListMembers delete: removes members; non-members unchanged; unknown people not_found', async () => {
    const winback = lists['Winback'];
    const [member] = await firstMembers(winback, 1);
    const [outsider] = await nonMembers(winback, 1);
    const out = await run(ListMembers.write!.delete!, [
      row(1, { ListId: winback, Email: member.attributes!.email }),
      row(2, { ListId: winback, Email: outsider.attributes!.email }),
      row(3, { ListId: winback, Email: 'nobody.at.all@example.com' }),
    ]);
    expect(out.map(status)).toEqual(['removed', 'unchanged', 'failed:not_found']);
    expect((await members(winback, [String(member.attributes!.email)])).size).toBe(0);
  });

  it('ListSubscribe insert: a double opt-in list gives pending-confirmation, a single opt-in one subscribed', async () => {
    const out = await run(ListSubscribe.write!.insert!, [
      row(1, { ListId: lists['Newsletter'], Email: 'doi.person@example.com' }),
      row(2, { ListId: lists['VIP Customers'], Email: 'soi.person@example.com' }),
    ]);
    expect(out.map(status)).toEqual(['pending-confirmation', 'subscribed']);
    const soi = await profileByEmail('soi.person@example.com');
    expect((soi?.attributes?.subscriptions as any)?.email?.marketing?.consent).toBe('SUBSCRIBED');
    const doi = await profileByEmail('doi.person@example.com');
    expect((doi?.attributes?.subscriptions as any)?.email?.marketing?.consent).not.toBe('SUBSCRIBED');
  });

  it('ListSubscribe delete: unsubscribes members; a person not in the list is refused unless allowed', async () => {
    const sms = lists['SMS Subscribers'];
    const [member] = await firstMembers(sms, 1);
    const [outsider] = await nonMembers(sms, 1);
    const out = await run(ListSubscribe.write!.delete!, [
      row(1, { ListId: sms, Email: member.attributes!.email }),
      row(2, { ListId: sms, Email: outsider.attributes!.email }),
    ]);
    expect(out.map(status)).toEqual(['unsubscribed', 'failed:not_in_list']);
    const still = await profileByEmail(String(outsider.attributes!.email));
    expect((still?.attributes?.subscriptions as any)?.email?.marketing?.consent).not.toBe('UNSUBSCRIBED');
    const allowed = await run(ListSubscribe.write!.delete!, [row(2, { ListId: sms, Email: outsider.attributes!.email })], { allowGlobalUnsubscribe: true });
    expect(allowed.map(status)).toEqual(['unsubscribed']);
  });

  it('PeopleExclusions: suppress, then lift it; a HARD_BOUNCE is refused without being sent', async () => {
    const suppressed = await run(PeopleExclusions.write!.insert!, [row(1, { Email: 'suppress.me@example.com' })]);
    expect(suppressed.map(status)).toEqual(['suppressed']);
    const lifted = await run(PeopleExclusions.write!.delete!, [row(1, { Email: 'suppress.me@example.com' })]);
    expect(lifted.map(status)).toEqual(['unsuppressed']);

    const filter = buildFilter('get_profiles', f.equals('subscriptions.email.marketing.suppression.reason', 'HARD_BOUNCE'));
    let bounced: JsonApiResource | undefined;
    for await (const p of client.paginate('get_profiles', { query: { filter } })) {
      bounced = p;
      break;
    }
    expect(bounced, 'the demo account has a HARD_BOUNCE profile').toBeDefined();
    const refused = await run(PeopleExclusions.write!.delete!, [row(1, { Email: bounced!.attributes!.email })]);
    expect(refused[0]).toMatchObject({ ok: false, code: 'not_unsuppressible', message: expect.stringContaining('HARD_BOUNCE') });
  });
});

describe('klv import (the built CLI)', () => {
  function env(): NodeJS.ProcessEnv {
    return cleanEnv({ HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), KLAVIYO_BASE_URL: emulator.url, KLAVIYO_PRIVATE_API_KEY: KEY });
  }

  async function klv(args: string[]): Promise<RunResult> {
    const r = await runKlv(['import', ...args], { cwd: join(root, 'work'), env: env(), timeoutMs: 120_000 });
    for (const text of [r.stdout, r.stderr]) expect(text).not.toContain(KEY.slice(0, 16));
    return r;
  }

  function csv(name: string, text: string): string {
    const file = join(root, 'work', name);
    writeFileSync(file, text);
    return file;
  }

  const logOf = (file: string): Record<string, string>[] => parse(readFileSync(file, 'utf8'), { columns: true, bom: true });

  it('list-members --op insert then --op delete: every row in exactly one log', async () => {
    const vip = lists['VIP Customers'];
    const [outsider] = await nonMembers(vip, 1);
    const file = csv('members.csv', `list_id,email\n${vip},${outsider.attributes!.email}\n${vip},cli.new.member@example.com\n${vip},not-an-email\n`);
    const r = await klv(['list-members', file, '--op', 'insert']);
    expect(r.code, r.stderr).toBe(3);
    const ok = logOf(join(root, 'work', 'members.success.csv'));
    const bad = logOf(join(root, 'work', 'members.errors.csv'));
    expect(ok.map((l) => l.Status)).toEqual(['added', 'created']);
    expect(ok.every((l) => l.Id)).toBe(true);
    expect(bad).toHaveLength(1);
    expect(bad[0].ErrorMessage).toContain('not-an-email');
    expect(await members(vip, [String(outsider.attributes!.email), 'cli.new.member@example.com'])).toEqual(
      new Set([String(outsider.attributes!.email), 'cli.new.member@example.com']),
    );

    const del = csv('remove.csv', `ListId,Email\n${vip},cli.new.member@example.com\n`);
    const d = await klv(['list-members', del, '--op', 'delete', '--yes']);
    expect(d.code, d.stderr).toBe(0);
    expect(logOf(join(root, 'work', 'remove.success.csv')).map((l) => l.Status)).toEqual(['removed']);
    expect((await members(vip, ['cli.new.member@example.com'])).size).toBe(0);
  });

  it('list-subscribe --op insert: pending-confirmation on the double opt-in list; --op delete refuses people not in the list', async () => {
    const file = csv('subscribe.csv', `ListId,Email\n${lists['Newsletter']},cli.doi@example.com\n${lists['VIP Customers']},cli.soi@example.com\n`);
    const r = await klv(['list-subscribe', file, '--op', 'insert']);
    expect(r.code, r.stderr).toBe(0);
    expect(logOf(join(root, 'work', 'subscribe.success.csv')).map((l) => l.Status)).toEqual(['pending-confirmation', 'subscribed']);

    const [outsider] = await nonMembers(lists['Winback'], 1);
    const un = csv('unsubscribe.csv', `ListId,Email\n${lists['Winback']},${outsider.attributes!.email}\n`);
    const d = await klv(['list-subscribe', un, '--op', 'delete', '--yes']);
    expect(d.code, d.stderr).toBe(3);
    const errors = logOf(join(root, 'work', 'unsubscribe.errors.csv'));
    expect(errors.map((l) => l.ErrorCode)).toEqual(['not_in_list']);
    expect(errors[0].ErrorMessage).toContain('--allow-global-unsubscribe');
  });

  it('people-exclusions --op insert then --op delete', async () => {
    const file = csv('suppress.csv', 'Email\ncli.suppress@example.com\n');
    const r = await klv(['people-exclusions', file, '--op', 'insert']);
    expect(r.code, r.stderr).toBe(0);
    expect(logOf(join(root, 'work', 'suppress.success.csv')).map((l) => l.Status)).toEqual(['suppressed']);
    const d = await klv(['people-exclusions', file, '--op', 'delete', '--yes', '--success-log', join(root, 'work', 'lift.success.csv'), '--error-log', join(root, 'work', 'lift.errors.csv')]);
    expect(d.code, d.stderr).toBe(0);
    expect(logOf(join(root, 'work', 'lift.success.csv')).map((l) => l.Status)).toEqual(['unsuppressed']);
  });
});

it('every exchange above conforms to Klaviyo\'s OpenAPI spec, request bodies included', () => {
  const report = recording.expectConformant({ minExchanges: 50 });
  if (report) {
    for (const op of ['add_profiles_to_list', 'remove_profiles_from_list', 'bulk_import_profiles', 'bulk_subscribe_profiles', 'bulk_unsubscribe_profiles', 'bulk_suppress_profiles', 'bulk_unsuppress_profiles', 'update_profile']) {
      expect(readFileSync(recording.file, 'utf8'), op).toContain(`"operationId":"${op}"`);
    }
  }
});
