/**
 * Push-down: which --where conditions become Klaviyo filters, exactly or as a wider filter
 * (kept local too, so rows stay exact), and which stay local. The allowed fields and operators
 * come from the spec metadata of the real endpoints.
 */
import { describe, expect, it } from 'vitest';
import { formatFilter } from '../../src/klaviyo/filter-builder.js';
import { OPERATIONS, type OperationId } from '../../src/klaviyo/generated/api-metadata.js';
import { columnMap } from '../../src/objects/read/collection-reader.js';
import { filterParam, pushdown } from '../../src/objects/read/pushdown.js';
import { CouponCodes } from '../../src/objects/catalog/coupon-codes.js';
import { EmailTemplates } from '../../src/objects/catalog/email-templates.js';
import { Flows } from '../../src/objects/catalog/flows.js';
import { Profiles } from '../../src/objects/catalog/profiles.js';
import type { ColumnDef, Condition, ObjectDefinition } from '../../src/objects/types.js';

function run(op: OperationId, def: ObjectDefinition, conditions: Condition[], extra: ColumnDef[] = []) {
  const result = pushdown(op, conditions, columnMap(def, extra));
  return { ...result, filter: filterParam(op, result.filters) };
}

const c = (column: string, op: Condition['op'], value: Condition['value']): Condition => ({ column, op, value });

describe('pushdown on get_profiles', () => {
  it('= becomes equals, exactly', () => {
    const cond = c('Email', '=', 'x@example.com');
    const r = run('get_profiles', Profiles, [cond]);
    expect(r.filter).toBe("equals(email,'x@example.com')");
    expect(r.pushed).toEqual([cond]);
    expect(r.local).toEqual([]);
  });

  it('in becomes any, exactly', () => {
    const r = run('get_profiles', Profiles, [c('ExternalId', 'in', ['a', 'b'])]);
    expect(r.filter).toBe("any(external_id,['a','b'])");
    expect(r.local).toEqual([]);
  });

  it('> and < on a datetime are sent unquoted in UTC AND kept local (greater-than may match the bound)', () => {
    const conditions = [c('Created', '>', '2026-01-01T00:00:00Z'), c('Updated', '<', '2026-02-01T00:00:00Z')];
    const r = run('get_profiles', Profiles, conditions);
    expect(r.filter).toBe('and(greater-than(created,2026-01-01T00:00:00Z),less-than(updated,2026-02-01T00:00:00Z))');
    expect(r.local).toEqual(conditions);
    expect(r.pushed).toEqual([]);
  });

  it('a datetime with microseconds is sent as the enclosing millisecond bound AND kept local', () => {
    const after = c('Created', '>', '2026-01-01T00:00:00.123456Z');
    const before = c('Updated', '<', '2026-01-01T00:00:00.123456Z');
    const r = run('get_profiles', Profiles, [after, before]);
    expect(r.filter).toBe('and(greater-than(created,2026-01-01T00:00:00.123Z),less-than(updated,2026-01-01T00:00:00.124Z))');
    expect(r.local).toEqual([after, before]);
    expect(r.pushed).toEqual([]);
    // Microseconds that are zero are milliseconds: sent as they are (and, as every > and <, also
    // checked locally: Klaviyo's greater-than may match the bound).
    const exact = run('get_profiles', Profiles, [c('Created', '>', '2026-01-01T00:00:00.123000Z')]);
    expect(exact.filter).toBe('greater-than(created,2026-01-01T00:00:00.123Z)');
    expect(exact.local).toEqual([c('Created', '>', '2026-01-01T00:00:00.123000Z')]);
  });

  it('>= on created (greater-than only) is sent as greater-than one second earlier AND kept local', () => {
    const cond = c('Created', '>=', '2026-01-01T00:00:00Z');
    const r = run('get_profiles', Profiles, [cond]);
    expect(r.filter).toBe('greater-than(created,2025-12-31T23:59:59Z)');
    expect(r.local).toEqual([cond]);
    expect(r.pushed).toEqual([]);
  });

  it('<= on updated (less-than only) is sent as less-than one second later AND kept local', () => {
    const cond = c('Updated', '<=', '2026-01-01T00:00:00Z');
    const r = run('get_profiles', Profiles, [cond]);
    expect(r.filter).toBe('less-than(updated,2026-01-01T00:00:01Z)');
    expect(r.local).toEqual([cond]);
  });

  it('!= is never pushed', () => {
    const cond = c('Email', '!=', 'x@example.com');
    const r = run('get_profiles', Profiles, [cond]);
    expect(r.filter).toBeUndefined();
    expect(r.local).toEqual([cond]);
  });

  it('operators the field does not allow stay local (= on created, contains on email)', () => {
    const a = c('Created', '=', '2026-01-01T00:00:00Z');
    const b = c('Email', 'contains', 'example');
    const r = run('get_profiles', Profiles, [a, b]);
    expect(r.filters).toEqual([]);
    expect(r.local).toEqual([a, b]);
  });

  it('columns without a filter field stay local (City, Properties.x)', () => {
    const a = c('City', '=', 'Berlin');
    const b = c('Properties.tier', '=', 'gold');
    const r = run('get_profiles', Profiles, [a, b], [{ name: 'Properties.tier', type: 'json', description: '', path: 'properties.tier' }]);
    expect(r.filters).toEqual([]);
    expect(r.local).toEqual([a, b]);
  });

  it('null values stay local, alone or in a list', () => {
    const a = c('Email', '=', null);
    const b = c('Email', 'in', ['a@example.com', null]);
    expect(run('get_profiles', Profiles, [a, b]).local).toEqual([a, b]);
  });

  it('the same field with the same operator twice: the first is pushed, the second stays local', () => {
    const a = c('Created', '>', '2026-01-01T00:00:00Z');
    const b = c('Created', '>', '2026-03-01T00:00:00Z');
    const r = run('get_profiles', Profiles, [a, b]);
    expect(r.filter).toBe('greater-than(created,2026-01-01T00:00:00Z)');
    expect(r.local).toEqual([a, b]);
    const x = c('Email', '=', 'x@example.com');
    const y = c('Email', '=', 'y@example.com');
    const e = run('get_profiles', Profiles, [x, y]);
    expect(e.filter).toBe("equals(email,'x@example.com')");
    expect(e.pushed).toEqual([x]);
    expect(e.local).toEqual([y]);
  });

  it('>= and > on one field both map to greater-than: only the first is sent', () => {
    const a = c('Created', '>=', '2026-01-01T00:00:00Z');
    const b = c('Created', '>', '2026-03-01T00:00:00Z');
    const r = run('get_profiles', Profiles, [a, b]);
    expect(r.filters).toHaveLength(1);
    expect(r.local).toEqual([a, b]);
  });

  it('a range on one field (> and <) is two filters', () => {
    const r = run('get_profiles', Profiles, [c('Created', '>', '2026-01-01T00:00:00Z'), c('Created', '<', '2026-02-01T00:00:00Z')]);
    expect(r.filter).toBe('and(greater-than(created,2026-01-01T00:00:00Z),less-than(created,2026-02-01T00:00:00Z))');
  });
});

describe('pushdown on other endpoints', () => {
  it('= on a field that only allows any becomes any([value])', () => {
    expect(run('get_flows', Flows, [c('Id', '=', 'F1')]).filter).toBe("any(id,['F1'])");
  });

  it('in with one value on an equals-only field becomes equals; with two it stays local', () => {
    expect(run('get_coupon_codes', CouponCodes, [c('Status', 'in', ['USED'])]).filter).toBe("equals(status,'USED')");
    const two = c('Status', 'in', ['USED', 'UNASSIGNED']);
    expect(run('get_coupon_codes', CouponCodes, [two]).local).toEqual([two]);
  });

  it('a value outside the filter\'s enum stays local', () => {
    const loose: ColumnDef = { name: 'Trigger', type: 'string', description: '', path: 'trigger_type', filterField: 'trigger_type' };
    const bad = c('Trigger', '=', 'Manual');
    const r = run('get_flows', Flows, [bad, c('Trigger', 'in', ['Metric', 'Nope'])], [loose]);
    expect(r.filters).toEqual([]);
    expect(r.local).toHaveLength(2);
    expect(run('get_flows', Flows, [c('Trigger', '=', 'Metric')], [loose]).filter).toBe("equals(trigger_type,'Metric')");
  });

  it('>= is exact where greater-or-equal exists (templates)', () => {
    const r = run('get_templates', EmailTemplates, [c('Updated', '>=', '2026-01-01T00:00:00Z'), c('Created', '<=', '2026-01-01T00:00:00Z')]);
    expect(r.filter).toBe('and(greater-or-equal(updated,2026-01-01T00:00:00Z),less-or-equal(created,2026-01-01T00:00:00Z))');
    expect(r.local).toEqual([]);
  });

  it('contains, starts-with and ends-with push where allowed', () => {
    expect(run('get_templates', EmailTemplates, [c('Name', 'contains', 'Sale')]).filter).toBe("contains(name,'Sale')");
    const sw = c('Name', 'starts-with', 'Sale');
    expect(run('get_templates', EmailTemplates, [sw]).local).toEqual([sw]);
    expect(run('get_flows', Flows, [c('Name', 'starts-with', 'Wel'), c('Name', 'ends-with', 'ries')]).filter).toBe(
      "and(starts-with(name,'Wel'),ends-with(name,'ries'))",
    );
  });

  it('booleans are sent bare', () => {
    expect(run('get_flows', Flows, [c('Archived', '=', false)]).filter).toBe('equals(archived,false)');
  });

  it('every pushed filter is one the endpoint accepts (formatFilter validates)', () => {
    const r = run('get_flows', Flows, [c('Updated', '>=', '2026-01-01T00:00:00Z'), c('Status', '=', 'live'), c('TriggerType', '=', 'Metric')]);
    expect(() => formatFilter(r.filters[0], OPERATIONS.get_flows.filters)).not.toThrow();
    expect(r.local).toEqual([]);
  });

  it('filterParam is undefined for no conditions', () => {
    expect(filterParam('get_profiles', [])).toBeUndefined();
  });
});
