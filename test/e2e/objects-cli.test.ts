/**
 * `klv objects` and `klv describe` as users run them: the built CLI, no profile, no key, no
 * network. Every object of the catalog is listed; describe's JSON names the columns the issue
 * requires of the seed objects; an unknown object exits 2 with a suggestion.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allObjects } from '../../src/objects/registry.js';
import { cleanEnv, runKlv } from '../helpers/cli.js';

// No config anywhere: these commands must not need a profile.
const home = mkdtempSync(join(tmpdir(), 'klv-objects-home-'));
const env = cleanEnv({ HOME: home, XDG_CONFIG_HOME: join(home, '.config') });
const run = (args: string[]) => runKlv(args, { env, cwd: home });

const MINIMUM_COLUMNS: Record<string, string[]> = {
  profiles: ['Id', 'Email', 'PhoneNumber', 'ExternalId', 'FirstName', 'LastName', 'Organization', 'Title', 'Locale', 'Address1', 'Address2', 'City', 'Region', 'Country', 'Zip', 'Timezone', 'Properties', 'Created', 'Updated'],
  lists: ['Id', 'Name', 'OptInProcess', 'Created', 'Updated'],
  'email-templates': ['Id', 'Name', 'EditorType', 'Html', 'Text', 'Created', 'Updated'],
  metrics: ['Id', 'Name', 'Created', 'Updated'],
  campaigns: ['Id', 'Name', 'Status', 'Channel', 'Archived', 'Subject', 'FromEmail', 'TemplateId', 'IncludedListIds', 'CreatedAt', 'UpdatedAt', 'ScheduledAt', 'SendTime'],
};

/** The objects the issue lists; all must be in the catalog once issue 3 is done. */
const ISSUE_OBJECTS = [
  'Campaigns', 'EmailTemplates', 'Lists', 'ListMembers', 'ListSubscribe', 'PeopleExclusions', 'ListExclusions', 'Profiles',
  'Metrics', 'Events', 'Segments', 'SegmentMembers', 'Flows', 'Tags', 'Coupons', 'CouponCodes', 'CatalogItems',
];

describe('klv objects', () => {
  it('prints a table of every object in the catalog on stdout, exit 0, without a profile', async () => {
    const r = await run(['objects']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^Object +Operations +Incremental +Notes$/);
    const names = lines.slice(1).map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual(allObjects().map((d) => d.name));
    expect(r.stdout).toMatch(/^Metrics +export +Updated \(local\) +Kinds of events/m);
    expect(r.stdout).toMatch(/^Tags +export +- +Labels/m);
    expect(r.stderr).not.toMatch(/error|warning/);
  });

  it('lists every object the issue names', async () => {
    const r = await run(['objects', '--json']);
    const names = (JSON.parse(r.stdout) as { name: string }[]).map((o) => o.name);
    for (const name of ISSUE_OBJECTS) expect(names, `${name} is missing from klv objects`).toContain(name);
  });

  it('--json prints an array of objects with aliases, key, operations, incremental and constraints', async () => {
    const r = await run(['objects', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const objects = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(objects.map((o) => o.name)).toEqual(allObjects().map((d) => d.name));
    for (const o of objects) {
      expect(Object.keys(o).sort()).toEqual(['aliases', 'constraints', 'description', 'incremental', 'key', 'name', 'operations']);
      expect(o.operations).toContain('export');
    }
    const segments = objects.find((o) => o.name === 'Segments')!;
    expect(segments).toMatchObject({ key: ['Id'], incremental: { column: 'Updated', serverSide: true } });
    expect(objects.find((o) => o.name === 'CatalogItems')).toMatchObject({ incremental: { column: 'Updated', serverSide: false }, aliases: ['catalog', 'products', 'product'] });
  });
});

describe('klv describe', () => {
  it.each(Object.entries(MINIMUM_COLUMNS))('%s --json names the issue\'s minimum columns', async (object, columns) => {
    const r = await run(['describe', object, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { name: string; columns: { name: string; type: string; filter: { pushedOperators: string[] } }[] };
    const names = d.columns.map((c) => c.name);
    for (const c of columns) expect(names, `${d.name} lacks ${c}`).toContain(c);
  });

  it('profiles --json: types, access, filters and constraints', async () => {
    const r = await run(['describe', 'Profile', '--json']);
    const d = JSON.parse(r.stdout);
    expect(d).toMatchObject({ name: 'Profiles', key: ['Id'], incremental: { column: 'Updated', serverSide: true } });
    expect(d.constraints.length).toBeGreaterThan(0);
    const email = d.columns.find((c: { name: string }) => c.name === 'Email');
    expect(email).toMatchObject({ type: 'email', readOnly: false, onDemand: false, aliases: expect.arrayContaining(['email']) });
    expect(email.filter.pushedOperators).toEqual(['=', 'in']);
    const created = d.columns.find((c: { name: string }) => c.name === 'Created');
    expect(created).toMatchObject({ type: 'datetime', readOnly: true });
    expect(d.columns.find((c: { name: string }) => c.name === 'PredictiveAnalytics')).toMatchObject({ onDemand: true });
  });

  it('prints the column table and constraints in words', async () => {
    const r = await run(['describe', 'email-templates']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^EmailTemplates: Email templates/);
    expect(r.stdout).toMatch(/^Column +Type +Access +Required on insert +Exported +Filter +Description$/m);
    expect(r.stdout).toMatch(/^Definition +json +writable +on demand +local/m);
    expect(r.stdout).toMatch(/^Updated +datetime +read-only +default +pushed: = >= <=; widened: > <; others local/m);
    expect(r.stdout).toMatch(/Constraints:\n  - /);
  });

  it('an unknown object exits 2 with the nearest names on stderr, nothing on stdout', async () => {
    const r = await run(['describe', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/error: Unknown object 'nope'\./);
    expect(r.stderr).toMatch(/'klv objects' lists them/);
    const near = await run(['describe', 'segmnts']);
    expect(near.code).toBe(2);
    expect(near.stderr).toMatch(/Did you mean Segments/);
  });

  it('without an object it is a usage error', async () => {
    const r = await run(['describe']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing required argument 'object'/);
  });
});
