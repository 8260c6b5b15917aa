/**
 * The scopes part of `klv doctor`: deriving each command's scopes from the catalog and the spec's
 * metadata, choosing a cheap probe per read scope, judging the probes, and what the report says.
 * Also guards the catalog's declarations: every operation an object's modules name is covered by
 * what its read plan and its import handlers declare, so the derived scopes cannot fall behind.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Chalk } from 'chalk';
import {
  buildScopeReport,
  commandScopes,
  describeNeeds,
  formatScopeSection,
  probeFor,
  probeScopes,
  scopeFindings,
  scopesToCheck,
  type CommandScopes,
  type ProbeClient,
} from '../../src/cli/commands/doctor-scopes.js';
import { OPERATIONS, type OperationId } from '../../src/klaviyo/generated/api-metadata.js';
import { withImpliedReads, withoutImpliedReads } from '../../src/klaviyo/scopes.js';
import { CATALOG } from '../../src/objects/catalog/index.js';
import { conditionalWriteOperations, readOperations, writeOperations } from '../../src/objects/operations-used.js';
import { REPO_ROOT } from '../helpers/cli.js';

const plain = new Chalk({ level: 0 });
const needs = commandScopes();
const need = (command: string, object: string, operation: string | null = null, when: string | null = null) =>
  needs.find((n) => n.command === command && n.object === object && n.operation === operation && n.when === when)?.scopes;

describe('scopes each command needs, derived from the catalog and the spec', () => {
  it('export (query, replicate) of an object needs the read scopes of the requests its plan makes', () => {
    expect(need('export', 'Lists')).toEqual(['lists:read']);
    expect(need('export', 'ListMembers')).toEqual(['lists:read', 'profiles:read']);
    expect(need('export', 'CouponCodes')).toEqual(['coupon-codes:read', 'coupons:read']);
  });

  it('counts the follow-up reads of a plan: a campaign template id needs templates:read', () => {
    expect(need('export', 'Campaigns')).toEqual(['campaigns:read', 'templates:read']);
  });

  it('plans an object that looks people up (ListSubscribe) with a lookup condition', () => {
    expect(need('export', 'ListSubscribe')).toEqual(['lists:read', 'profiles:read']);
  });

  it('import needs the scopes of what its handler calls, a write scope standing for its read scope', () => {
    expect(need('import', 'Lists', 'insert')).toEqual(['lists:write']);
    expect(need('import', 'Lists', 'update')).toEqual(['lists:write']);
    expect(need('import', 'EmailTemplates', 'update')).toEqual(['templates:write']);
    expect(need('import', 'Campaigns', 'insert')).toEqual(['campaigns:write', 'templates:read']);
    expect(need('import', 'PeopleExclusions', 'delete')).toEqual(['profiles:read', 'subscriptions:write']);
  });

  it('lists what only some runs need apart, with when', () => {
    expect(need('import', 'Profiles', 'update')).toEqual(['profiles:write']);
    expect(need('import', 'Profiles', 'update', '--list')).toEqual(['lists:write']);
    expect(need('import', 'ListMembers', 'insert', 'a PushToken column')).toEqual(['push-tokens:write']);
  });

  it('sync needs the read and the three writes of the object', () => {
    expect(need('sync', 'Lists')).toEqual(['lists:write']);
    expect(need('sync', 'EmailTemplates')).toEqual(['templates:write']);
    expect(need('sync', 'Campaigns')).toEqual(['campaigns:write', 'templates:read']);
    expect(needs.filter((n) => n.command === 'sync').map((n) => n.object).sort()).toEqual(['Campaigns', 'EmailTemplates', 'Lists']);
  });

  it('covers every object and import operation of the catalog', () => {
    for (const def of CATALOG) {
      expect(need('export', def.name), `export ${def.name}`).toBeDefined();
      for (const op of def.operations) expect(need('import', def.name, op), `import ${def.name} ${op}`).toBeDefined();
    }
  });

  it('keeps the fewest scopes: a write scope includes its read scope', () => {
    expect(withoutImpliedReads(['lists:read', 'lists:write', 'profiles:read'])).toEqual(['lists:write', 'profiles:read']);
    expect([...withImpliedReads(['lists:write', 'tags:read'])].sort()).toEqual(['lists:read', 'lists:write', 'tags:read']);
  });
});

describe('the catalog declares every operation its objects call', () => {
  const SRC = join(REPO_ROOT, 'src/objects');
  const ids = new Set(Object.keys(OPERATIONS));
  const source = (file: string) => readFileSync(file, 'utf8');
  /** The catalog module of each object, from the imports of catalog/index.ts. */
  const catalogFile = new Map(
    [...source(join(SRC, 'catalog/index.ts')).matchAll(/import \{ (\w+) \} from '\.\/([\w-]+)\.js'/g)].map((m) => [m[1]!, join(SRC, 'catalog', `${m[2]}.ts`)]),
  );
  /** A write module and the write modules it imports, transitively. */
  const writeModules = (file: string, seen = new Set<string>()): Set<string> => {
    if (seen.has(file)) return seen;
    seen.add(file);
    for (const m of source(file).matchAll(/from '\.\/([\w-]+)\.js'/g)) writeModules(join(dirname(file), `${m[1]}.ts`), seen);
    return seen;
  };
  const operationsNamed = (file: string) => [...source(file).matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!).filter((s) => ids.has(s)) as OperationId[];
  const scopesOf = (ops: readonly OperationId[]) => ops.flatMap((op) => OPERATIONS[op].scopes);

  it('every import handler of the catalog declares the operations it calls', () => {
    for (const def of CATALOG) {
      for (const op of def.operations) expect(writeOperations(def, op).length, `${def.name} ${op}`).toBeGreaterThan(0);
    }
  });

  /** The scopes an object's read declares (its plan's requests and follow-ups). */
  const readGrants = (def: (typeof CATALOG)[number]) => withImpliedReads(scopesOf(readOperations(def)));
  /** The scopes its import handlers declare. */
  const writeGrants = (def: (typeof CATALOG)[number]) =>
    withImpliedReads(scopesOf(def.operations.flatMap((op) => [...writeOperations(def, op), ...conditionalWriteOperations(def, op).flatMap((c) => c.operations)])));
  const uncovered = (files: Iterable<string>, granted: Set<string>) =>
    [...files].flatMap(operationsNamed).filter((op) => OPERATIONS[op].scopes.some((s) => !granted.has(s)));
  const writeFiles = (def: (typeof CATALOG)[number]) =>
    [...source(catalogFile.get(def.name)!).matchAll(/from '\.\.\/write\/([\w-]+)\.js'/g)].map((m) => join(SRC, 'write', `${m[1]}.ts`));

  for (const def of CATALOG) {
    it(`${def.name}: what its catalog module reads and its write module calls is declared`, () => {
      const file = catalogFile.get(def.name);
      expect(file, `catalog/index.ts imports ${def.name}`).toBeDefined();
      expect(uncovered([file!], readGrants(def)), `operations named in ${file!.slice(SRC.length + 1)} but not in the read plan`).toEqual([]);
      const writes = writeFiles(def);
      expect(uncovered(writes, writeGrants(def)), `operations named in ${writes.map((f) => f.slice(SRC.length + 1)).join(', ')} but not declared by a handler`).toEqual([]);
    });
  }

  it('the operations shared write modules name are declared by an object that uses them', () => {
    const users = new Map<string, Set<string>>();
    for (const def of CATALOG) {
      for (const own of writeFiles(def)) {
        for (const file of writeModules(own)) {
          const granted = users.get(file) ?? new Set<string>();
          for (const s of writeGrants(def)) granted.add(s);
          users.set(file, granted);
        }
      }
    }
    const problems = [...users].flatMap(([file, granted]) => uncovered([file], granted).map((op) => `${file.slice(SRC.length + 1)}: ${op}`));
    expect(problems).toEqual([]);
  });
});

describe('probes: one cheap GET per read scope', () => {
  it('picks a collection that needs only the scope, at its smallest page size', () => {
    expect(probeFor('lists:read')).toEqual({ scope: 'lists:read', operationId: 'get_lists', query: { 'page[size]': '1' }, alongside: [] });
    expect(probeFor('profiles:read')).toMatchObject({ operationId: 'get_profiles', query: { 'page[size]': '1' } });
  });

  it('gives a required filter an enum value (campaigns need their channel)', () => {
    expect(probeFor('campaigns:read')).toEqual({
      scope: 'campaigns:read',
      operationId: 'get_campaigns',
      query: { 'page[size]': '1', filter: "equals(messages.channel,'email')" },
      alongside: [],
    });
  });

  it('prefers an endpoint klv reads, among equals', () => {
    expect(probeFor('tags:read', new Set(['get_tags']))?.operationId).toBe('get_tags');
    expect(probeFor('tags:read', new Set(['get_tag_groups']))?.operationId).toBe('get_tag_groups');
  });

  it('falls back to an endpoint that needs another scope too, and says which', () => {
    expect(probeFor('push-tokens:read')).toMatchObject({ operationId: 'get_push_tokens', alongside: ['profiles:read'] });
  });

  it('checks the read scopes needed, and the read scope of each write scope needed', () => {
    const few: CommandScopes[] = [
      { command: 'export', object: 'Lists', operation: null, when: null, scopes: ['lists:read'] },
      { command: 'import', object: 'Events', operation: 'insert', when: null, scopes: ['events:write'] },
      { command: 'import', object: 'ListMembers', operation: 'insert', when: 'a PushToken column', scopes: ['push-tokens:write'] },
    ];
    expect(scopesToCheck(few)).toEqual(['events:read', 'lists:read', 'push-tokens:read']);
  });

  it('sends them all and judges each: 2xx granted, 403 missing, anything else unknown', async () => {
    const sent: string[] = [];
    const client: ProbeClient = {
      async request(op) {
        sent.push(op);
        if (op === 'get_lists') throw Object.assign(new Error('GET /api/lists failed: 403'), { status: 403 });
        if (op === 'get_events') throw Object.assign(new Error('GET /api/events failed: 503 after 3 attempts'), { status: 503 });
        return {};
      },
    };
    const results = await probeScopes(client, ['events:read', 'lists:read', 'profiles:read', 'conversations:read']);
    expect(results).toEqual([
      { scope: 'events:read', operationId: 'get_events', status: 'unknown', reason: 'GET /api/events failed: 503 after 3 attempts' },
      { scope: 'lists:read', operationId: 'get_lists', status: 'missing' },
      { scope: 'profiles:read', operationId: 'get_profiles', status: 'granted' },
      { scope: 'conversations:read', operationId: null, status: 'unknown', reason: 'no endpoint without an id needs this scope' },
    ]);
    expect(sent.sort()).toEqual(['get_events', 'get_lists', 'get_profiles']);
  });

  it('blames a 403 on a scope probed alongside another only when that other one is granted', async () => {
    const refuseAll: ProbeClient = {
      async request(op) {
        if (op === 'get_profiles') return {};
        throw Object.assign(new Error('403'), { status: 403 });
      },
    };
    expect(await probeScopes(refuseAll, ['profiles:read', 'push-tokens:read'])).toEqual([
      { scope: 'profiles:read', operationId: 'get_profiles', status: 'granted' },
      { scope: 'push-tokens:read', operationId: 'get_push_tokens', status: 'missing' },
    ]);
    const noProfiles: ProbeClient = {
      async request() {
        throw Object.assign(new Error('403'), { status: 403 });
      },
    };
    const [, push] = await probeScopes(noProfiles, ['profiles:read', 'push-tokens:read']);
    expect(push).toMatchObject({ status: 'unknown', reason: 'get_push_tokens also needs profiles:read, which could not be confirmed' });
  });
});

describe('what the report says', () => {
  const few: CommandScopes[] = [
    { command: 'export', object: 'Lists', operation: null, when: null, scopes: ['lists:read'] },
    { command: 'export', object: 'ListMembers', operation: null, when: null, scopes: ['lists:read', 'profiles:read'] },
    { command: 'import', object: 'Lists', operation: 'insert', when: null, scopes: ['lists:write'] },
    { command: 'import', object: 'Profiles', operation: 'update', when: '--list', scopes: ['lists:write'] },
    { command: 'import', object: 'Events', operation: 'insert', when: null, scopes: ['events:write'] },
    { command: 'sync', object: 'Lists', operation: null, when: null, scopes: ['lists:write'] },
  ];
  const checked = [
    { scope: 'events:read', operationId: 'get_events', status: 'granted' as const },
    { scope: 'lists:read', operationId: 'get_lists', status: 'missing' as const },
    { scope: 'profiles:read', operationId: 'get_profiles', status: 'granted' as const },
  ];
  const report = buildScopeReport(few, checked);

  it('a write scope is missing with its read scope, and unchecked otherwise', () => {
    expect(report.scopes).toEqual([
      { scope: 'events:write', status: 'unchecked', neededBy: 'import Events (insert)' },
      { scope: 'lists:read', status: 'missing', neededBy: 'export Lists, ListMembers' },
      { scope: 'lists:write', status: 'missing', neededBy: 'import Lists (insert), Profiles (update with --list); sync Lists' },
      { scope: 'profiles:read', status: 'granted', neededBy: 'export ListMembers' },
    ]);
    expect(report.commands.find((c) => c.object === 'ListMembers')?.missing).toEqual(['lists:read']);
    expect(report.commands.find((c) => c.object === 'Events')?.missing).toEqual([]);
  });

  it('warns of a missing scope with everything klv cannot do without it, and what to give the key', () => {
    const findings = scopeFindings(report);
    expect(findings[0]).toEqual({
      level: 'warning',
      message: 'The key lacks lists:read: klv cannot export, query or replicate Lists, ListMembers; import Lists (insert), Profiles (update with --list); sync Lists',
      hint: "Give a key Read access to Lists (Full access to import or sync it) in Klaviyo (Settings > API keys; an existing key's scopes cannot change), or use a key that has it.",
    });
    expect(findings[1]).toMatchObject({ level: 'note', message: 'Write scopes are not checked (that would mean writing): events:write' });
    expect(findings).toHaveLength(2);
  });

  it('says when a scope could not be checked, and why', () => {
    const unknown = buildScopeReport(few, [{ scope: 'lists:read', operationId: 'get_lists', status: 'unknown', reason: 'GET /api/lists failed: 500' }]);
    expect(scopeFindings(unknown)).toContainEqual({ level: 'warning', message: 'Could not check lists:read: GET /api/lists failed: 500' });
  });

  it('prints one line per scope with its status and the commands that need it', () => {
    const lines = formatScopeSection(report, plain);
    expect(lines[0]).toMatch(/^Scopes the commands need/);
    expect(lines).toContain('  lists:write    missing    import Lists (insert), Profiles (update with --list); sync Lists');
    expect(lines).toContain('  events:write   unchecked  import Events (insert)');
    expect(describeNeeds([])).toBe('');
  });
});
