/**
 * What `klv objects` and `klv describe` say, computed in process: the filter support of each
 * column is found by planning reads, so it must match the endpoints' spec filters (pushed,
 * widened, local), including for objects that refuse a read without some filter.
 */
import { describe, expect, it } from 'vitest';
import { describeObject, filterSupport, filterText, formatDescription } from '../../src/cli/commands/describe.js';
import { operatorsFor } from '../../src/objects/conditions/operators.js';
import { formatObjects, formatTable, incrementalText, summarize } from '../../src/cli/commands/objects.js';
import { allObjects, findObject } from '../../src/objects/registry.js';
import { Profiles } from '../../src/objects/catalog/profiles.js';
import { collectionObject } from '../../src/objects/read/collection-reader.js';
import type { ObjectDefinition } from '../../src/objects/types.js';
import { UsageError } from '../../src/core/errors.js';

const support = (object: string, column: string) => {
  const def = findObject(object);
  return filterSupport(def, def.columns.find((c) => c.name === column)!);
};

describe('filterSupport', () => {
  it('Profiles.Email: = and in pushed, the rest local', () => {
    expect(support('profiles', 'Email')).toEqual({
      pushedOperators: ['=', 'in'],
      widenedOperators: [],
      localOperators: ['!=', '>', '>=', '<', '<=', 'contains', 'starts-with', 'ends-with'],
    });
  });

  it('Created on get_profiles (greater-than and less-than only): every comparison widened, the bound checked by klv', () => {
    // The plain collection reader: the catalog's Profiles may also slice reads on Created (partitioned.ts).
    const plain = collectionObject({ ...Profiles, name: 'PlainProfiles' }, { resourceType: 'profile', list: 'get_profiles', byId: 'get_profile' });
    expect(filterSupport(plain, plain.columns.find((c) => c.name === 'Created')!)).toEqual({
      // greater-than may match the bound (estuary/connectors PR #4062): klv checks > and < too.
      pushedOperators: [],
      widenedOperators: ['>', '>=', '<', '<='],
      localOperators: ['=', '!=', 'in'],
    });
    // Whatever the catalog's Profiles plan does, every comparison narrows the request.
    const real = support('profiles', 'Created');
    for (const op of ['>', '>=', '<', '<='] as const) expect([...real.pushedOperators, ...real.widenedOperators]).toContain(op);
  });

  it('Profiles.Id: = is a by-id read, in is any(id)', () => {
    expect(support('profiles', 'Id').pushedOperators).toEqual(['=', 'in']);
  });

  it('a column without a filter field is local for every operator of its type', () => {
    expect(support('profiles', 'City')).toEqual({ pushedOperators: [], widenedOperators: [], localOperators: operatorsFor(findObject('profiles').columns.find((c) => c.name === 'City')!) });
    expect(support('coupons', 'Description').pushedOperators).toEqual([]);
  });

  it('Segments.Updated: > and >= widened (greater-than only); an on-demand column that adds requests is still local', () => {
    expect(support('segments', 'Updated')).toMatchObject({ pushedOperators: [], widenedOperators: ['>', '>='] });
    expect(support('segments', 'ProfileCount')).toMatchObject({ pushedOperators: [], widenedOperators: [] });
  });

  it('Flows and templates: = >= <= on Updated are exact; > and < are checked by klv too', () => {
    for (const object of ['flows', 'email-templates']) {
      expect(support(object, 'Updated')).toMatchObject({ pushedOperators: ['=', '>=', '<='], widenedOperators: ['>', '<'] });
    }
  });

  it('CouponCodes: CouponId = and in scope the listing; Status = is pushed into each per-coupon request', () => {
    expect(support('coupon-codes', 'CouponId').pushedOperators).toEqual(['=', 'in']);
    expect(support('coupon-codes', 'Status').pushedOperators).toEqual(['=']);
    expect(support('coupon-codes', 'ExpiresAt')).toMatchObject({ pushedOperators: ['>=', '<='], widenedOperators: ['>', '<'] });
  });

  it('booleans only get = != in', () => {
    expect(operatorsFor({ name: 'X', type: 'boolean', description: '' })).toEqual(['=', '!=', 'in']);
    expect(support('catalog-items', 'Published')).toEqual({ pushedOperators: ['='], widenedOperators: [], localOperators: ['!=', 'in'] });
  });

  it('an object that refuses reads without a filter is still described (planned with = on the other columns)', () => {
    const base = findObject('profiles');
    const picky = (fail: () => never): ObjectDefinition => ({
      ...base,
      name: 'Picky',
      plan(request) {
        if (!request.where.some((c) => c.column === 'Email' && c.op === '=')) fail();
        return base.plan(request);
      },
    });
    const refusing = picky(() => {
      throw new UsageError('Picky needs an Email filter.');
    });
    const col = (name: string) => refusing.columns.find((c) => c.name === name)!;
    expect(filterSupport(refusing, col('ExternalId')).pushedOperators).toEqual(['=', 'in']);
    expect(filterSupport(refusing, col('City')).pushedOperators).toEqual([]);
    // Email itself: `Email = x` plans alone; `Email in (...)` needs the seeds (which carry no Email) and still fails: local.
    expect(filterSupport(refusing, col('Email')).pushedOperators).toEqual(['=']);
    // Anything but a KlvError is a bug, not a refusal: it surfaces.
    const broken = picky(() => {
      throw new TypeError('broken plan');
    });
    expect(() => filterSupport(broken, col('City'))).toThrow('broken plan');
  });

  it('ListSubscribe (needs an Email or PhoneNumber) is described, when present', () => {
    if (!allObjects().some((d) => d.name === 'ListSubscribe')) return;
    expect(support('list-subscribe', 'Email').pushedOperators).toContain('=');
  });

  it('filterText', () => {
    expect(filterText({ pushedOperators: [], widenedOperators: [], localOperators: ['='] })).toBe('local');
    expect(filterText({ pushedOperators: ['>'], widenedOperators: ['>='], localOperators: ['='] })).toBe('pushed: >; widened: >=; others local');
    expect(filterText({ pushedOperators: ['=', '!=', 'in'], widenedOperators: [], localOperators: [] })).toBe('pushed: = != in');
  });
});

describe('describeObject and formatDescription', () => {
  it('every object in the catalog can be described, and every column gets a filter entry', () => {
    for (const def of allObjects()) {
      const d = describeObject(def);
      expect(d.name).toBe(def.name);
      expect(d.columns.map((c) => c.name)).toEqual(def.columns.map((c) => c.name));
      for (const c of d.columns) {
        const all = [...c.filter.pushedOperators, ...c.filter.widenedOperators, ...c.filter.localOperators];
        expect(all.sort(), `${def.name}.${c.name}`).toEqual([...operatorsFor(def.columns.find((x) => x.name === c.name)!)].sort());
      }
      expect(def.description.length, `${def.name} needs a description`).toBeGreaterThan(10);
      expect(def.key.every((k) => def.columns.some((c) => c.name === k)), `${def.name} key columns exist`).toBe(true);
      if (def.incremental) expect(def.columns.some((c) => c.name === def.incremental!.column && c.type === 'datetime'), `${def.name} incremental column`).toBe(true);
    }
  });

  it('Segments in words: header, columns with access and on-demand cost, constraints', () => {
    const text = formatDescription(findObject('segment'));
    expect(text).toMatch(/^Segments: Dynamic groups of profiles/);
    expect(text).toMatch(/Key: +Id/);
    expect(text).toMatch(/Operations: +export/);
    expect(text).toMatch(/Incremental: +Updated \(--since is filtered by Klaviyo\)/);
    expect(text).toMatch(/^ProfileCount +integer +read-only +on demand +local +Number of profiles/m);
    expect(text).toMatch(/^Name +string +writable +yes +default +pushed: = in; others local/m);
    expect(text).toMatch(/Constraints:\n  - Klaviyo returns at most 10 segments per page\./);
  });

  it('a client-side incremental column and enum values are spelled out', () => {
    const text = formatDescription(findObject('catalog-items'));
    expect(text).toMatch(/Incremental: +Updated \(local\): Klaviyo cannot filter it/);
    const tags = formatDescription(findObject('tags'));
    expect(tags).toMatch(/Incremental: +no/);
    const codes = formatDescription(findObject('coupon-codes'));
    expect(codes).toMatch(/^Status +string +read-only/m);
  });
});

describe('klv objects output', () => {
  it('summarize: export plus the object\'s operations, incremental or null', () => {
    expect(summarize(findObject('tags'))).toMatchObject({ name: 'Tags', operations: ['export'], incremental: null, key: ['Id'] });
    expect(summarize(findObject('metrics')).incremental).toEqual({ column: 'Updated', serverSide: false });
    expect(summarize(findObject('templates')).aliases).toContain('templates');
  });

  it('incrementalText marks client-side columns', () => {
    expect(incrementalText(findObject('metrics'))).toBe('Updated (local)');
    expect(incrementalText(findObject('profiles'))).toBe('Updated');
    expect(incrementalText(findObject('coupons'))).toBe('-');
  });

  it('formatTable pads every column but the last', () => {
    expect(formatTable(['A', 'Bee'], [['xx', 'y'], ['z', '']])).toBe('A   Bee\nxx  y\nz');
  });

  it('formatObjects: one line per object after the header', () => {
    const lines = formatObjects(allObjects()).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^Object +Operations +Incremental +Notes$/);
    expect(lines).toHaveLength(allObjects().length + 1);
    expect(lines.find((l) => l.startsWith('CatalogItems '))).toMatch(/export +Updated \(local\) +Products in the catalog/);
  });
});
