/**
 * `klv import profiles` and `klv import events` as users run them: the built CLI in a child
 * process against an emulator in this test process, whose account (GET /_emulator/state) and
 * request counts (GET /_emulator/requests) prove what reached Klaviyo. Every exchange is checked
 * against Klaviyo's OpenAPI spec, request bodies included.
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { cleanEnv, runKlv, type RunResult } from '../helpers/cli.js';
import { withRecording } from '../helpers/recording.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import type { AccountSnapshot, StoredResource } from '../../src/emulator/store/types.js';

const KEY = 'pk_import_profiles_e2e_0123456789abcd';
const DEMO_PROFILES = 200;

const recording = withRecording();
let emulator: RunningEmulator;
let root: string;

beforeAll(async () => {
  // The emulator's clock stands still: every profile an import creates has exactly its job's
  // created_at, so created/updated statuses do not depend on how long the emulator takes to run
  // a 10,000-profile job (the emulator stamps created_at once the job is processed, not when it
  // is submitted as Klaviyo does).
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  emulator = await startEmulator({ data: 'demo', profiles: DEMO_PROFILES, rateLimits: 'off', seed: 7, record: recording.file, clock: () => now });
  root = realpathSync(mkdtempSync(join(tmpdir(), 'klv-e2e-import-profiles-')));
});

afterAll(async () => {
  await emulator?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

beforeEach(async () => {
  await fetch(`${emulator.url}/_emulator/reset`, { method: 'POST' });
  await fetch(`${emulator.url}/_emulator/requests`, { method: 'DELETE' });
});

async function klv(args: string[]): Promise<RunResult> {
  const r = await runKlv(args, {
    cwd: root,
    env: cleanEnv({ HOME: root, XDG_CONFIG_HOME: join(root, 'xdg'), KLAVIYO_BASE_URL: emulator.url, KLAVIYO_PRIVATE_API_KEY: KEY }),
    timeoutMs: 120_000,
  });
  for (const text of [r.stdout, r.stderr]) expect(text).not.toContain(KEY.slice(0, 16));
  return r;
}

async function state(): Promise<AccountSnapshot> {
  return (await (await fetch(`${emulator.url}/_emulator/state`)).json()) as AccountSnapshot;
}

async function requests(): Promise<{ total: number; byOperation: Record<string, number> }> {
  return (await (await fetch(`${emulator.url}/_emulator/requests`)).json()) as { total: number; byOperation: Record<string, number> };
}

function csv(name: string, header: string[], rows: Array<Array<string | number>>): string {
  const path = join(root, name);
  const quote = (v: string | number) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
  writeFileSync(path, [header, ...rows].map((r) => r.map(quote).join(',')).join('\n') + '\n');
  return path;
}

function log(path: string): Array<Record<string, string>> {
  return parse(readFileSync(path, 'utf8'), { columns: true, skip_empty_lines: true });
}

function profilesOf(s: AccountSnapshot): StoredResource[] {
  return (s.resources.profile ?? []) as StoredResource[];
}

/** Writes: every counted operation that is not a GET. */
function writeCount(byOperation: Record<string, number>): number {
  const reads = /^get_/;
  return Object.entries(byOperation)
    .filter(([op]) => !reads.test(op))
    .reduce((n, [, c]) => n + c, 0);
}

describe('must-show 1: 1,000 profiles, some invalid, upserted', () => {
  it('every row lands in one log; invalid ones with reasons; valid ones exported with their Ids', async () => {
    const before = profilesOf(await state());
    const withPhone = before.filter((p) => p.attributes.phone_number);
    const rows: Array<Array<string | number>> = [];
    const invalid = new Map<number, RegExp>();
    for (let i = 1; i <= 1000; i++) {
      if (i % 50 === 0) {
        rows.push([`not-an-email-${i}`, `Bad${i}`, '', 'Nowhere']);
        invalid.set(i, /Email: 'not-an-email-\d+' is not an email address/);
      } else if (i % 50 === 1) {
        rows.push([`phone${i}@example.com`, `Phone${i}`, '555-CALL', 'Nowhere']);
        invalid.set(i, /PhoneNumber: .*E\.164/);
      } else if (i % 100 === 25) {
        rows.push(['', `Nobody${i}`, '', 'Nowhere']);
        invalid.set(i, /identifier|Email, PhoneNumber/);
      } else if (i <= 100) {
        // Existing demo profiles: updated, keeping their ids.
        rows.push([before[i].attributes.email as string, `Updated${i}`, '', 'Grenoble']);
      } else {
        rows.push([`person${i}@example.com`, `Person${i}`, '', `City${i % 7}`]);
      }
    }
    // Klaviyo-side failures the CSV cannot show: an email of one profile with the phone of another.
    const a = before.find((p) => p.attributes.phone_number && p !== withPhone[1])!;
    rows[999 - 1] = [a.attributes.email as string, 'Conflict', withPhone[1].attributes.phone_number as string, ''];
    invalid.set(999, /duplicate_profile|already exists|belongs to profile/);

    const file = csv('people.csv', ['Email', 'first_name', 'Phone Number', 'City'], rows);
    const r = await klv(['import', 'profiles', file, '--op', 'upsert', '--json']);
    expect(r.code, r.stderr).toBe(3);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ object: 'Profiles', operation: 'upsert', rowsRead: 1000 });

    const ok = log(join(root, 'people.success.csv'));
    const bad = log(join(root, 'people.errors.csv'));
    expect(ok.length + bad.length).toBe(1000);
    expect(new Set([...ok, ...bad].map((l) => l.Row)).size).toBe(1000);
    expect(summary.succeeded).toBe(ok.length);
    expect(summary.failed).toBe(bad.length);

    // Invalid rows: in the error log, with the reason.
    expect(bad.map((b) => Number(b.Row)).sort((x, y) => x - y)).toEqual([...invalid.keys()].sort((x, y) => x - y));
    for (const b of bad) {
      expect(`${b.ErrorCode}: ${b.ErrorMessage}`, `row ${b.Row}`).toMatch(invalid.get(Number(b.Row))!);
      expect(b.ErrorCode).not.toBe('');
    }

    // Valid rows: each with an Id and a status; updated ones kept their ids.
    for (const s of ok) {
      expect(s.Id, `row ${s.Row}`).toMatch(/^\w+$/);
      expect(['created', 'updated']).toContain(s.Status);
    }
    const updated = ok.filter((s) => Number(s.Row) <= 100);
    expect(updated.every((s) => s.Status === 'updated')).toBe(true);
    for (const s of updated) expect(s.Id).toBe(before[Number(s.Row)].id);
    expect(ok.filter((s) => Number(s.Row) > 100).every((s) => s.Status === 'created')).toBe(true);

    // Every success row is visible through klv export profiles, under its Id, with its values.
    const exported = await klv(['export', 'profiles', '--columns', 'Id,Email,FirstName,City', '--format', 'ndjson']);
    expect(exported.code, exported.stderr).toBe(0);
    const byId = new Map(
      exported.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .map((p) => [p.Id, p]),
    );
    for (const s of ok) {
      const p = byId.get(s.Id);
      expect(p, `row ${s.Row}`).toBeDefined();
      expect(p.Email.toLowerCase()).toBe(s.Email.toLowerCase());
      expect(p.FirstName).toBe(s.first_name);
      if (s.City) expect(p.City).toBe(s.City);
    }
    expect(byId.size).toBe(DEMO_PROFILES + ok.filter((s) => s.Status === 'created').length);

    // One bulk import job for the whole file; no per-profile writes.
    const counts = await requests();
    expect(counts.byOperation.bulk_import_profiles).toBe(1);
    expect(counts.byOperation.create_or_update_profile ?? 0).toBe(0);

    // The error log is a valid input: fixing nothing, a retry fails the same rows again, unsent where klv can tell.
    const retry = await klv(['import', 'profiles', join(root, 'people.errors.csv'), '--op', 'upsert', '--json']);
    expect(retry.code, retry.stderr).toBe(3);
    expect(JSON.parse(retry.stdout)).toMatchObject({ rowsRead: bad.length, failed: bad.length });

    recording.expectConformant();
  });
});

describe('request count: ceil(N / 10,000) bulk import jobs', () => {
  it('25,001 new profiles take 3 write requests', async () => {
    const rows = Array.from({ length: 25_001 }, (_, i) => [`bulk${i}@example.com`, `Bulk${i}`]);
    const file = csv('bulk.csv', ['Email', 'FirstName'], rows);
    const r = await klv(['import', 'profiles', file, '--op', 'upsert', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ rowsRead: 25_001, succeeded: 25_001, failed: 0, statuses: { created: 25_001 } });
    const counts = await requests();
    expect(counts.byOperation.bulk_import_profiles).toBe(3);
    expect(writeCount(counts.byOperation)).toBe(3);
    // Ids come from lookups of 100 identifiers a request: 100 + 100 + 51 for jobs of 10,000, 10,000 and 5,001.
    expect(counts.byOperation.get_profiles).toBe(251);
    expect(profilesOf(await state()).length).toBe(DEMO_PROFILES + 25_001);
  }, 120_000);
});

describe('insert, update, --list, --null-value, --dry-run', () => {
  it('insert refuses existing profiles unsent and adds the new ones to the --list', async () => {
    const s = await state();
    const existing = profilesOf(s)[3];
    const vip = (s.resources.list as StoredResource[]).find((l) => l.attributes.name === 'VIP Customers')!;
    const file = csv('new.csv', ['Email', 'FirstName'], [
      [existing.attributes.email as string, 'Again'],
      ['brand.new@example.com', 'New'],
      ['second.new@example.com', 'Newer'],
    ]);
    const r = await klv(['import', 'profiles', file, '--op', 'insert', '--list', vip.id]);
    expect(r.code, r.stderr).toBe(3);
    const bad = log(join(root, 'new.errors.csv'));
    expect(bad).toEqual([expect.objectContaining({ Row: '1', ErrorCode: 'duplicate_profile', ErrorMessage: expect.stringContaining(existing.id) })]);
    const ok = log(join(root, 'new.success.csv'));
    expect(ok.map((o) => [o.Row, o.Status])).toEqual([
      ['2', 'created'],
      ['3', 'created'],
    ]);
    const after = await state();
    const members = (after.listMembers as Record<string, unknown>)[vip.id] as unknown;
    const memberIds = JSON.stringify(members);
    for (const o of ok) expect(memberIds).toContain(o.Id);
    expect(profilesOf(after).find((p) => p.id === existing.id)!.attributes.first_name).toBe(existing.attributes.first_name);
    recording.expectConformant();
  });

  it('update by Email clears --null-value cells and leaves empty cells alone; unknown emails fail not_found', async () => {
    const target = profilesOf(await state()).find((p) => p.attributes.phone_number && p.attributes.last_name)!;
    const file = csv('upd.csv', ['Email', 'FirstName', 'LastName', 'Phone'], [
      [target.attributes.email as string, 'Renamed', 'NULL', ''],
      ['ghost@example.com', 'Ghost', '', ''],
    ]);
    const r = await klv(['import', 'profiles', file, '--op', 'update', '--null-value', 'NULL']);
    expect(r.code, r.stderr).toBe(3);
    expect(log(join(root, 'upd.success.csv'))).toEqual([expect.objectContaining({ Row: '1', Id: target.id, Status: 'updated' })]);
    expect(log(join(root, 'upd.errors.csv'))).toEqual([expect.objectContaining({ Row: '2', ErrorCode: 'not_found' })]);
    const after = profilesOf(await state()).find((p) => p.id === target.id)!;
    expect(after.attributes.first_name).toBe('Renamed');
    expect(after.attributes.last_name ?? null).toBeNull();
    expect(after.attributes.phone_number).toBe(target.attributes.phone_number);
    const counts = await requests();
    expect(counts.byOperation.update_profile).toBe(1);
    recording.expectConformant();
  });

  it('upsert with --null-value sends those rows through profile-import, the rest through a job', async () => {
    const target = profilesOf(await state()).find((p) => p.attributes.title === null && p.attributes.organization === null)!;
    const file = csv('mixed.csv', ['Email', 'Organization', 'City'], [
      [target.attributes.email as string, 'Acme', 'NULL'],
      ['mixed.new@example.com', 'Beta', 'Rome'],
    ]);
    const r = await klv(['import', 'profiles', file, '--op', 'upsert', '--null-value', 'NULL']);
    expect(r.code, r.stderr).toBe(0);
    const ok = log(join(root, 'mixed.success.csv'));
    expect(ok.map((o) => [o.Row, o.Status])).toEqual(expect.arrayContaining([['1', 'updated'], ['2', 'created']]));
    const after = profilesOf(await state()).find((p) => p.id === target.id)!;
    expect(after.attributes.organization).toBe('Acme');
    expect((after.attributes.location as Record<string, unknown> | null)?.city ?? null).toBeNull();
    const counts = await requests();
    expect(counts.byOperation.create_or_update_profile).toBe(1);
    expect(counts.byOperation.bulk_import_profiles).toBe(1);
    recording.expectConformant();
  });

  it('--dry-run reads the current profiles and reports created / updated with ChangedColumns / unchanged, writing nothing', async () => {
    const [p1, p2] = profilesOf(await state());
    const file = csv('dry.csv', ['Email', 'FirstName', 'LastName'], [
      [p1.attributes.email as string, p1.attributes.first_name as string, p1.attributes.last_name as string],
      [p2.attributes.email as string, 'Changed', p2.attributes.last_name as string],
      ['dry.new@example.com', 'New', 'Person'],
    ]);
    const r = await klv(['import', 'profiles', file, '--op', 'upsert', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    const ok = log(join(root, 'dry.dry-run.success.csv'));
    const by = Object.fromEntries(ok.map((o) => [o.Row, o]));
    expect(by['1']).toMatchObject({ Status: 'unchanged', Id: p1.id });
    expect(by['2']).toMatchObject({ Status: 'updated', Id: p2.id, ChangedColumns: 'FirstName' });
    expect(by['3']).toMatchObject({ Status: 'created' });
    expect(writeCount((await requests()).byOperation)).toBe(0);
  });
});

describe('events insert', () => {
  it('imports events grouped per profile; importing the same file again adds none', async () => {
    const metricName = 'Imported Order';
    const file = csv('orders.csv', ['Email', 'Metric', 'Datetime', 'Value', 'Properties.OrderId'], [
      ['ann.events@example.com', metricName, '2026-01-02T10:00:00Z', 19.5, 'A-1'],
      ['ann.events@example.com', metricName, '2026-01-03T10:00:00Z', 5, 'A-2'],
      ['bob.events@example.com', metricName, '2026-01-02T11:00:00Z', 7.25, 'B-1'],
    ]);
    const eventsOf = (s: AccountSnapshot) => {
      const metric = (s.resources.metric as StoredResource[]).find((m) => m.attributes.name === metricName);
      return metric ? (s.resources.event as StoredResource[]).filter((e) => JSON.stringify(e.relationships).includes(metric.id)) : [];
    };
    const first = await klv(['import', 'events', file, '--op', 'insert', '--unique-by', 'Email,Properties.OrderId']);
    expect(first.code, first.stderr).toBe(0);
    const ok = log(join(root, 'orders.success.csv'));
    expect(ok).toHaveLength(3);
    expect(ok.every((o) => o.Status === 'created')).toBe(true);
    expect((await requests()).byOperation.bulk_create_events).toBe(1);
    expect(eventsOf(await state())).toHaveLength(3);

    rmSync(join(root, 'orders.success.csv'));
    rmSync(join(root, 'orders.errors.csv'), { force: true });
    const again = await klv(['import', 'events', file, '--op', 'insert', '--unique-by', 'Email,Properties.OrderId']);
    expect(again.code, again.stderr).toBe(0);
    expect(eventsOf(await state())).toHaveLength(3);
    recording.expectConformant();
  });
});
