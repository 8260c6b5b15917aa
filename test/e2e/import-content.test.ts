/**
 * Lists, EmailTemplates and Campaigns imported into the emulator, over loopback with the real
 * client: every operation of the issue's table for these objects, each Klaviyo constraint
 * (the daily list-creation cap, drag-and-drop templates' HTML, the per-message template copy, a
 * sent campaign's read-only state), the result checked in the emulator's account and read back
 * through klv's own readers, and every exchange checked against Klaviyo's OpenAPI spec.
 *
 * The handlers are driven as the import pipeline drives them: validateRow, then processBatch
 * with batches of maxBatchSize (or preview for a dry run).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/secret.js';
import { systemClock } from '../../src/core/clock.js';
import { KlaviyoClient } from '../../src/klaviyo/client.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { DEMO_PRIVATE_KEY } from '../../src/emulator/demo-data/index.js';
import type { StoredResource } from '../../src/emulator/store/types.js';
import { selectColumns } from '../../src/objects/columns.js';
import { findObject } from '../../src/objects/registry.js';
import { parseWhere } from '../../src/objects/where.js';
import type { Row } from '../../src/objects/types.js';
import type { ImportRow, RowOutcome, WriteContext } from '../../src/objects/write/types.js';
import { cleanEnv, runKlv } from '../helpers/cli.js';
import { emulatorWithClient } from '../helpers/emulator-api.js';
import { writeContext } from '../helpers/mock-klaviyo.js';
import { withRecording } from '../helpers/recording.js';

const recording = withRecording();
let emulator: RunningEmulator;
let client: KlaviyoClient;
let closeAll: () => Promise<void>;

const contextFor = (c: KlaviyoClient): WriteContext => writeContext(c, systemClock);

beforeAll(async () => {
  ({ emulator, client, close: closeAll } = await emulatorWithClient({ data: 'demo', rateLimits: 'off', record: recording.file }));
});
afterAll(() => closeAll?.());

type Op = 'insert' | 'update' | 'delete';

/** What the pipeline does with a file's rows: validate each, then send batches of maxBatchSize. */
async function importRows(object: string, op: Op, values: Array<Record<string, unknown>>, o: { dryRun?: boolean; c?: KlaviyoClient } = {}): Promise<RowOutcome[]> {
  const handler = findObject(object).write![op]!;
  const ctx = contextFor(o.c ?? client);
  const rows: ImportRow[] = values.map((v, i) => ({ rowNumber: i + 1, values: v }));
  const out: RowOutcome[] = [];
  const valid: ImportRow[] = [];
  for (const r of rows) {
    const invalid = handler.validateRow?.(r, ctx.options);
    if (invalid) out.push(invalid);
    else valid.push(r);
  }
  for (let i = 0; i < valid.length; i += handler.maxBatchSize) {
    const batch = valid.slice(i, i + handler.maxBatchSize);
    out.push(...(o.dryRun ? await handler.preview!(batch, ctx) : await handler.processBatch(batch, ctx)));
  }
  // The contract: exactly one outcome per row.
  expect(out.map((x) => x.rowNumber).sort((a, b) => a - b)).toEqual(rows.map((r) => r.rowNumber));
  return out.sort((a, b) => a.rowNumber - b.rowNumber);
}

async function exportRows(object: string, where: string[], columns?: string[]): Promise<Row[]> {
  const def = findObject(object);
  const plan = def.plan({ columns: selectColumns(def, columns), where: where.map((w) => parseWhere(w, def)), options: { includeArchived: true } });
  const rows: Row[] = [];
  for await (const row of plan.execute(client)) rows.push(row);
  return rows;
}

const stored = (type: string, id: string): StoredResource | undefined => emulator.store.collection(type).get(id);
const ok = (o: RowOutcome) => {
  expect(o, JSON.stringify(o)).toMatchObject({ ok: true });
  return o as Extract<RowOutcome, { ok: true }>;
};
const failed = (o: RowOutcome) => {
  expect(o, JSON.stringify(o)).toMatchObject({ ok: false });
  return o as Extract<RowOutcome, { ok: false }>;
};

describe('Lists', () => {
  it('insert, update (with a dry run first) and delete', async () => {
    const created = await importRows('lists', 'insert', [
      { Name: 'Imported VIP', OptInProcess: 'double_opt_in' },
      { Name: 'Imported Newsletter' },
      { OptInProcess: 'single_opt_in' },
    ]);
    const [vip, news] = created.slice(0, 2).map(ok);
    expect(vip.status).toBe('created');
    expect(stored('list', vip.id!)?.attributes).toMatchObject({ name: 'Imported VIP', opt_in_process: 'double_opt_in' });
    expect(stored('list', news.id!)?.attributes.name).toBe('Imported Newsletter');
    expect(failed(created[2]).code).toBe('missing_value');

    const preview = await importRows('lists', 'update', [{ Id: vip.id, Name: 'VIP (renamed)' }, { Id: news.id, Name: 'Imported Newsletter' }], { dryRun: true });
    expect(preview.map((o) => ok(o).extras?.ChangedColumns)).toEqual(['Name', '']);
    expect(preview.map((o) => ok(o).status)).toEqual(['updated', 'unchanged']);
    expect(stored('list', vip.id!)?.attributes.name).toBe('Imported VIP');

    const updated = await importRows('lists', 'update', [{ Id: vip.id, Name: 'VIP (renamed)', OptInProcess: 'single_opt_in' }, { Id: 'NOPE00', Name: 'x' }]);
    expect(ok(updated[0]).status).toBe('updated');
    expect(stored('list', vip.id!)?.attributes).toMatchObject({ name: 'VIP (renamed)', opt_in_process: 'single_opt_in' });
    expect(failed(updated[1]).code).toBe('not_found');

    const exported = await exportRows('lists', [`Id = '${vip.id}'`], ['Id', 'Name', 'OptInProcess']);
    expect(exported).toEqual([{ Id: vip.id, Name: 'VIP (renamed)', OptInProcess: 'single_opt_in' }]);

    const deleted = await importRows('lists', 'delete', [{ Id: vip.id }, { Id: news.id }]);
    expect(deleted.map((o) => ok(o).status)).toEqual(['deleted', 'deleted']);
    expect(stored('list', vip.id!)).toBeUndefined();
    expect(stored('list', news.id!)).toBeUndefined();
  });
});

describe('EmailTemplates', () => {
  const templates = () => [...emulator.store.collection('template').values()];

  it('insert CODE and drag-and-drop templates, update, delete', async () => {
    const dnd = templates().find((t) => t.attributes.editor_type === 'SYSTEM_DRAGGABLE' && t.attributes.definition);
    expect(dnd, 'the demo account has a drag-and-drop template with a definition').toBeDefined();
    const created = await importRows('email-templates', 'insert', [
      { Name: 'Imported code', Html: '<html><body><p>Hello {{ first_name }}</p></body></html>', Text: 'Hello' },
      { Name: 'Imported drag-and-drop', EditorType: 'SYSTEM_DRAGGABLE', Definition: dnd!.attributes.definition, Html: '<p>rendered</p>' },
      { Name: 'Simple', EditorType: 'SIMPLE', Html: '<p/>' },
    ]);
    const [code, draggable] = created.slice(0, 2).map(ok);
    expect(stored('template', code.id!)?.attributes).toMatchObject({ name: 'Imported code', editor_type: 'CODE', text: 'Hello' });
    expect(stored('template', draggable.id!)?.attributes.editor_type).toBe('SYSTEM_DRAGGABLE');
    expect(failed(created[2]).code).toBe('invalid_value');

    const updated = await importRows('email-templates', 'update', [{ Id: code.id, Html: '<html><body><p>Changed</p></body></html>', Name: 'Imported code v2' }]);
    expect(ok(updated[0]).status).toBe('updated');
    expect(stored('template', code.id!)?.attributes).toMatchObject({ name: 'Imported code v2', html: '<html><body><p>Changed</p></body></html>' });

    const deleted = await importRows('email-templates', 'delete', [{ Id: code.id }, { Id: draggable.id }]);
    expect(deleted.map((o) => ok(o).status)).toEqual(['deleted', 'deleted']);
    expect(stored('template', code.id!)).toBeUndefined();
  });

  it("a drag-and-drop template's Html is never sent: the row fails with the reason, the template is untouched", async () => {
    const dnd = templates().find((t) => t.attributes.editor_type === 'SYSTEM_DRAGGABLE')!;
    const html = dnd.attributes.html;
    const before = (await emulatorRequests()).byOperation.update_template ?? 0;
    const out = await importRows('email-templates', 'update', [
      // The row says it is drag-and-drop.
      { Id: dnd.id, EditorType: 'SYSTEM_DRAGGABLE', Html: '<p>no</p>' },
      // The row does not say: klv looks it up.
      { Id: dnd.id, Html: '<p>no</p>' },
      // A rename is fine.
      { Id: dnd.id, Name: 'Renamed drag-and-drop' },
    ]);
    expect(failed(out[0]).code).toBe('drag_and_drop_html');
    expect(failed(out[1]).code).toBe('drag_and_drop_html');
    expect(failed(out[1]).message).toMatch(/drag-and-drop template \(SYSTEM_DRAGGABLE\): Klaviyo does not let the API change its Html/);
    expect(ok(out[2]).status).toBe('updated');
    expect((await emulatorRequests()).byOperation.update_template).toBe(before + 1);
    expect(stored('template', dnd.id)?.attributes).toMatchObject({ html, name: 'Renamed drag-and-drop' });
  });
});

async function emulatorRequests(): Promise<{ total: number; byOperation: Record<string, number> }> {
  const res = await fetch(`${emulator.url}/_emulator/requests`);
  return (await res.json()) as { total: number; byOperation: Record<string, number> };
}

describe('Campaigns', () => {
  const libraryTemplate = () => {
    const copies = new Set(
      [...emulator.store.collection('campaign-message').values()].map((m) => (m.relationships.template as { id: string } | null)?.id).filter(Boolean),
    );
    return [...emulator.store.collection('template').values()].find((t) => t.attributes.editor_type === 'CODE' && !copies.has(t.id))!;
  };
  const lists = () => [...emulator.store.collection('list').values()].map((l) => l.id);

  it('three rows with the same TemplateId get three different TemplateIds: each message its own copy', async () => {
    const source = libraryTemplate();
    const [l1, l2] = lists();
    const out = await importRows('campaigns', 'insert', [1, 2, 3].map((i) => ({
      Name: `Imported campaign ${i}`,
      IncludedListIds: i === 1 ? `${l1};${l2}` : `["${l1}"]`,
      Subject: `Subject ${i}`,
      FromEmail: 'shop@example.com',
      FromLabel: 'Shop',
      TemplateId: source.id,
    })));
    const rows = out.map(ok);
    const templateIds = rows.map((r) => r.extras!.TemplateId);
    expect(new Set(templateIds).size).toBe(3);
    expect(templateIds).not.toContain(source.id);
    for (const r of rows) {
      const campaign = stored('campaign', r.id!)!;
      expect(campaign.attributes.status).toBe('Draft');
      const [messageRef] = campaign.relationships['campaign-messages'] as Array<{ id: string }>;
      const message = stored('campaign-message', messageRef.id)!;
      expect((message.relationships.template as { id: string }).id).toBe(r.extras!.TemplateId);
      expect(stored('template', r.extras!.TemplateId)?.attributes.html).toBe(source.attributes.html);
    }
    expect(stored('campaign', rows[0].id!)?.attributes.audiences).toMatchObject({ included: [l1, l2] });

    // klv export reads back what the success log says.
    const exported = await exportRows('campaigns', [`Id = '${rows[1].id}'`], ['Id', 'Name', 'Subject', 'FromEmail', 'TemplateId', 'IncludedListIds']);
    expect(exported).toEqual([{ Id: rows[1].id, Name: 'Imported campaign 2', Subject: 'Subject 2', FromEmail: 'shop@example.com', TemplateId: templateIds[1], IncludedListIds: [l1] }]);
  });

  it('an SMS campaign with its body; a template that does not exist leaves a named campaign', async () => {
    const [l1] = lists();
    const out = await importRows('campaigns', 'insert', [
      { Name: 'Imported SMS', Channel: 'sms', Body: 'Trail sale today', IncludedListIds: l1 },
      { Name: 'Bad template', IncludedListIds: l1, TemplateId: 'NOPE00' },
    ]);
    const sms = ok(out[0]);
    const message = stored('campaign-message', (stored('campaign', sms.id!)!.relationships['campaign-messages'] as Array<{ id: string }>)[0].id)!;
    expect(message.attributes.definition).toMatchObject({ channel: 'sms', content: { body: 'Trail sale today' } });
    const bad = failed(out[1]);
    expect(bad.code).toBe('not_found');
    const id = /Campaign (\S+) was created/.exec(bad.message)?.[1];
    expect(id && stored('campaign', id)?.attributes.name).toBe('Bad template');
  });

  it('update sends only what changed; a dry run says what would; a sent campaign is refused with Klaviyo\'s reason', async () => {
    const [l1, l2] = lists();
    const [created] = (await importRows('campaigns', 'insert', [{ Name: 'To update', IncludedListIds: l1, Subject: 'Before', FromEmail: 'shop@example.com' }])).map(ok);

    const dry = await importRows('campaigns', 'update', [{ Id: created.id, Name: 'To update', Subject: 'After', IncludedListIds: `${l1};${l2}` }], { dryRun: true });
    expect(ok(dry[0]).extras?.ChangedColumns).toBe('Subject;IncludedListIds');
    expect(stored('campaign', created.id!)?.attributes.audiences).toMatchObject({ included: [l1] });

    const before = await emulatorRequests();
    const updated = await importRows('campaigns', 'update', [
      { Id: created.id, Name: 'To update', Subject: 'After', IncludedListIds: `${l1};${l2}` },
      { Id: created.id, Name: 'To update', Subject: 'After' },
    ]);
    expect(updated.map((o) => ok(o).status)).toEqual(['updated', 'unchanged']);
    const after = await emulatorRequests();
    expect((after.byOperation.update_campaign ?? 0) - (before.byOperation.update_campaign ?? 0)).toBe(1);
    expect((after.byOperation.update_campaign_message ?? 0) - (before.byOperation.update_campaign_message ?? 0)).toBe(1);
    const [exported] = await exportRows('campaigns', [`Id = '${created.id}'`], ['Subject', 'FromEmail', 'IncludedListIds']);
    // The subject changed; the sender, not given, stayed.
    expect(exported).toEqual({ Subject: 'After', FromEmail: 'shop@example.com', IncludedListIds: [l1, l2] });

    const sent = [...emulator.store.collection('campaign').values()].find((c) => c.attributes.status === 'Sent')!;
    const [refused] = await importRows('campaigns', 'update', [{ Id: sent.id, Name: 'Rewrite history' }]);
    expect(failed(refused).message).toMatch(/sent campaign is read-only/);
    expect(stored('campaign', sent.id)?.attributes.name).not.toBe('Rewrite history');
  });

  it('delete', async () => {
    const [l1] = lists();
    const [created] = (await importRows('campaigns', 'insert', [{ Name: 'To delete', IncludedListIds: l1 }])).map(ok);
    const out = await importRows('campaigns', 'delete', [{ Id: created.id }, { Id: 'NOPE00' }]);
    expect(ok(out[0]).status).toBe('deleted');
    expect(failed(out[1]).code).toBe('not_found');
    expect(stored('campaign', created.id!)).toBeUndefined();
  });
});

describe('the daily list-creation cap, with the spec\'s limits on', () => {
  it('150 lists are created; the 151st row fails with daily_limit, the rest are not sent', async () => {
    // The emulator's time moves half a second per reading, so that 150 creations stay under the
    // per-second and per-minute limits without waiting, and all fall on one UTC day.
    let t = Date.UTC(2026, 6, 15, 0, 0, 0);
    const capped = await startEmulator({ data: 'empty', rateLimits: 'spec', record: recording.file, clock: () => new Date((t += 500)) });
    const c = new KlaviyoClient({ baseUrl: capped.url, apiKey: new Secret(DEMO_PRIVATE_KEY), userAgent: 'klv/e2e', rateLimits: 'off' });
    try {
      const rows = Array.from({ length: 160 }, (_, i) => ({ Name: `Daily ${i + 1}` }));
      const out = await importRows('lists', 'insert', rows, { c });
      expect(out.slice(0, 150).every((o) => o.ok)).toBe(true);
      expect(capped.store.collection('list').count()).toBe(150);
      const rest = out.slice(150).map(failed);
      expect(rest.every((o) => o.code === 'daily_limit')).toBe(true);
      expect(rest[0].message).toMatch(/^Klaviyo allows 150 new lists a day and this account has reached that; try again after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(Klaviyo: .*per day/);
      // The emulator's day started a couple of minutes ago on its clock: the cap lifts in about 24 hours.
      const until = Date.parse(/after (\S+)/.exec(rest[0].message)![1]);
      expect(until - Date.now()).toBeGreaterThan(23 * 3600_000);
      expect(until - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
      expect(rest[1].message).toContain('Not sent');
      // One request met the cap; the nine rows after it were never sent.
      expect(c.stats().byOperation.create_list.requests).toBe(151);
    } finally {
      await c.close();
      await capped.close();
    }
  });
});

describe('klv import (the built CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'klv-import-content-'));
  const env = () => cleanEnv({ HOME: dir, XDG_CONFIG_HOME: join(dir, '.config'), KLAVIYO_BASE_URL: emulator.url, KLAVIYO_PRIVATE_API_KEY: DEMO_PRIVATE_KEY });
  const klv = (args: string[]) => runKlv(['import', ...args], { env: env(), cwd: dir });
  const csv = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  // Batches run concurrently: a log is in completion order, so read it in input order.
  const log = (file: string): Array<Record<string, string>> =>
    (parse(readFileSync(file, 'utf8'), { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>).sort((a, b) => Number(a.Row) - Number(b.Row));

  it('campaigns: three rows with the same TemplateId, three different TemplateIds in the success log', async () => {
    const source = [...emulator.store.collection('template').values()].find((t) => t.attributes.editor_type === 'CODE')!;
    const list = [...emulator.store.collection('list').values()][0].id;
    const file = csv(
      'campaigns.csv',
      ['Name,IncludedListIds,Subject,FromEmail,TemplateId', ...[1, 2, 3].map((i) => `CLI campaign ${i},${list},Hello ${i},shop@example.com,${source.id}`)].join('\n') + '\n',
    );
    const r = await klv(['campaigns', file, '--op', 'insert']);
    expect(r.code, r.stderr).toBe(0);
    const success = log(join(dir, 'campaigns.success.csv'));
    expect(success.map((s) => s.Status)).toEqual(['created', 'created', 'created']);
    expect(success.map((s) => s.Name)).toEqual(['CLI campaign 1', 'CLI campaign 2', 'CLI campaign 3']);
    const templateIds = success.map((s) => s.TemplateId);
    expect(new Set(templateIds).size).toBe(3);
    expect(templateIds).not.toContain(source.id);
    for (const s of success) expect(stored('campaign', s.Id)?.attributes.name).toBe(s.Name);
    expect(log(join(dir, 'campaigns.errors.csv'))).toEqual([]);
  });

  it('email-templates: a drag-and-drop Html row lands in the error log with the reason, the other is updated; exit 3', async () => {
    const all = [...emulator.store.collection('template').values()];
    const dnd = all.find((t) => t.attributes.editor_type === 'SYSTEM_DRAGGABLE')!;
    const code = all.find((t) => t.attributes.editor_type === 'CODE')!;
    const file = csv('templates.csv', `Id,Html\n${dnd.id},<p>nope</p>\n${code.id},<p>CLI update</p>\n`);
    const r = await klv(['email-templates', file, '--op', 'update']);
    expect(r.code, r.stderr).toBe(3);
    const errors = log(join(dir, 'templates.errors.csv'));
    expect(errors).toEqual([expect.objectContaining({ Row: '1', Id: dnd.id, ErrorCode: 'drag_and_drop_html' })]);
    expect(errors[0].ErrorMessage).toMatch(/drag-and-drop template/);
    expect(log(join(dir, 'templates.success.csv'))).toEqual([expect.objectContaining({ Row: '2', Id: code.id, Status: 'updated' })]);
    expect(stored('template', code.id)?.attributes.html).toBe('<p>CLI update</p>');
  });

  it('lists: insert, then delete with --yes from the success log', async () => {
    const file = csv('lists.csv', 'Name,OptInProcess\nCLI list A,double opt-in\nCLI list B,\n');
    const r = await klv(['lists', file, '--op', 'insert']);
    expect(r.code, r.stderr).toBe(0);
    const success = log(join(dir, 'lists.success.csv'));
    expect(success.map((s) => s.Status)).toEqual(['created', 'created']);
    expect(stored('list', success[0].Id)?.attributes).toMatchObject({ name: 'CLI list A', opt_in_process: 'double_opt_in' });

    const del = await klv(['lists', join(dir, 'lists.success.csv'), '--op', 'delete', '--yes', '--success-log', join(dir, 'deleted.csv'), '--error-log', join(dir, 'not-deleted.csv')]);
    expect(del.code, del.stderr).toBe(0);
    expect(log(join(dir, 'deleted.csv')).map((s) => s.Status)).toEqual(['deleted', 'deleted']);
    for (const s of success) expect(stored('list', s.Id)).toBeUndefined();
  });
});

describe('the wire', () => {
  it("every exchange stayed within Klaviyo's OpenAPI spec", async () => {
    await closeAll();
    recording.expectConformant({ minExchanges: 20 });
  });
});
