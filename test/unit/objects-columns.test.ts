/**
 * Column selection: the default set leaves out on-demand columns, --columns keeps the user's
 * order and resolves aliases, Properties.<name> columns expand custom properties, and unknown
 * names fail with a suggestion. Runs on the real Profiles and Lists definitions plus a small fake.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { findColumn, propertyColumn, requireColumn, selectColumns } from '../../src/objects/columns.js';
import { Lists } from '../../src/objects/catalog/lists.js';
import { Profiles } from '../../src/objects/catalog/profiles.js';
import type { ObjectDefinition } from '../../src/objects/types.js';

const names = (cols: { name: string }[]) => cols.map((c) => c.name);

const NoProps: ObjectDefinition = {
  name: 'Widgets',
  description: 'test object without custom properties',
  key: ['Id'],
  columns: [
    { name: 'Id', type: 'id', description: 'id', path: 'id' },
    { name: 'Name', type: 'string', description: 'name', path: 'name', aliases: ['widget_name'] },
    { name: 'Cost', type: 'integer', description: 'costly', path: 'cost', onDemand: true },
  ],
  operations: [],
  constraints: [],
  plan: () => {
    throw new Error('not used');
  },
};

describe('selectColumns', () => {
  it('by default returns every column that is not on demand, in definition order', () => {
    expect(names(selectColumns(NoProps))).toEqual(['Id', 'Name']);
    const profiles = names(selectColumns(Profiles));
    expect(profiles).toEqual(Profiles.columns.filter((c) => !c.onDemand).map((c) => c.name));
    for (const onDemand of ['Subscriptions', 'PredictiveAnalytics', 'EmailConsent', 'SmsConsent']) expect(profiles).not.toContain(onDemand);
    expect(names(selectColumns(Lists))).not.toContain('ProfileCount');
    expect(names(selectColumns(Profiles, []))).toEqual(profiles);
  });

  it('named columns come in the given order, resolved through aliases and case, without duplicates', () => {
    expect(names(selectColumns(Profiles, ['email', ' first_name ', 'Id', 'EMAIL', '']))).toEqual(['Email', 'FirstName', 'Id']);
    expect(names(selectColumns(NoProps, ['widget_name']))).toEqual(['Name']);
  });

  it('an on-demand column is included when named', () => {
    expect(names(selectColumns(Lists, ['Id', 'ProfileCount']))).toEqual(['Id', 'ProfileCount']);
    expect(names(selectColumns(NoProps, ['Cost']))).toEqual(['Cost']);
  });

  it('--properties adds one Properties.<name> column each, after the others', () => {
    const cols = selectColumns(Profiles, ['Email'], { properties: ['tier', ' plan', 'tier'] });
    expect(names(cols)).toEqual(['Email', 'Properties.tier', 'Properties.plan']);
    expect(cols[1]).toMatchObject({ type: 'json', path: 'properties.tier', sparseField: 'properties' });
  });

  it('Properties.<name> can be named in --columns directly', () => {
    const cols = selectColumns(Profiles, ['Id', 'properties.loyalty_tier']);
    expect(names(cols)).toEqual(['Id', 'Properties.loyalty_tier']);
    expect(cols[1].path).toBe('properties.loyalty_tier');
  });

  it('--properties on an object without Properties is a usage error', () => {
    expect(() => selectColumns(NoProps, undefined, { properties: ['x'] })).toThrow(UsageError);
    expect(() => selectColumns(NoProps, undefined, { properties: ['x'] })).toThrow(/Widgets has no custom properties/);
  });

  it('an unknown column is a usage error suggesting the nearest and pointing at klv describe', () => {
    try {
      selectColumns(Profiles, ['Email', 'FristName']);
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      expect((err as UsageError).message).toBe("Profiles has no column 'FristName'.");
      expect((err as UsageError).hint).toMatch(/Did you mean 'FirstName'/);
      expect((err as UsageError).hint).toMatch(/klv describe Profiles/);
    }
  });

  it('Properties.x on an object without Properties is an unknown column', () => {
    expect(() => selectColumns(NoProps, ['Properties.x'])).toThrow(/Widgets has no column 'Properties.x'/);
  });
});

describe('findColumn and requireColumn', () => {
  it('finds canonical names before aliases', () => {
    expect(findColumn(Profiles, 'phone')?.name).toBe('PhoneNumber');
    expect(findColumn(Profiles, '$phone_number')?.name).toBe('PhoneNumber');
    expect(findColumn(Profiles, 'city')?.name).toBe('City');
    expect(findColumn(Profiles, 'location.city')?.name).toBe('City');
    expect(findColumn(Profiles, 'nope')).toBeUndefined();
  });

  it('requireColumn names the context in its message', () => {
    expect(() => requireColumn(NoProps, 'Nmae', 'CSV column')).toThrow("Widgets has no CSV column 'Nmae'.");
  });

  it('propertyColumn reads attributes.properties.<name>', () => {
    expect(propertyColumn('a.b')).toMatchObject({ name: 'Properties.a.b', path: 'properties.a.b' });
  });
});
