import { describe, expect, it } from 'vitest';
import { parseFilter, FilterSyntaxError, type FilterNode } from '../../src/emulator/http/filter-parser.js';
import { validateFilter, type Condition } from '../../src/emulator/http/filter-validator.js';
import { matchesAll, valuesAtPath } from '../../src/emulator/http/filter-evaluator.js';
import { ApiError } from '../../src/emulator/http/api-error.js';
import { OPERATIONS } from '../../src/klaviyo/generated/api-metadata.js';
import type { StoredResource } from '../../src/emulator/store/types.js';

describe('filter parser', () => {
  it('parses an operator with a quoted string', () => {
    expect(parseFilter("equals(email,'a@b.com')")).toEqual({
      kind: 'condition', operator: 'equals', field: 'email', value: 'a@b.com', position: 0,
    });
  });

  it('reads double quotes and backslash escapes', () => {
    const node = parseFilter(String.raw`equals(name,"say \"hi\" it\'s")`) as Extract<FilterNode, { kind: 'condition' }>;
    expect(node.value).toBe(`say "hi" it's`);
    const single = parseFilter(String.raw`equals(name,'O\'Brien, Jr.')`) as Extract<FilterNode, { kind: 'condition' }>;
    expect(single.value).toBe("O'Brien, Jr.");
  });

  it('reads lists, numbers, booleans, null and unquoted datetimes', () => {
    const node = parseFilter("and(any(id,['a','b']),equals(archived,false),greater-than(timestamp,-1.5e3),equals(x,null),less-than(updated,2024-01-02T03:04:05Z))");
    expect(node.kind).toBe('and');
    const ops = (node as Extract<FilterNode, { kind: 'and' }>).operands as Array<Extract<FilterNode, { kind: 'condition' }>>;
    expect(ops.map((o) => o.value)).toEqual([
      ['a', 'b'],
      false,
      -1500,
      null,
      { kind: 'datetime', text: '2024-01-02T03:04:05Z', ms: Date.UTC(2024, 0, 2, 3, 4, 5) },
    ]);
  });

  it('treats datetimes without an offset as UTC and accepts +hhmm offsets', () => {
    const a = parseFilter('greater-than(updated,2024-01-01T00:00:00)') as Extract<FilterNode, { kind: 'condition' }>;
    const b = parseFilter('greater-than(updated,2024-01-01T02:00:00+0200)') as Extract<FilterNode, { kind: 'condition' }>;
    expect((a.value as { ms: number }).ms).toBe(Date.UTC(2024, 0, 1));
    expect((b.value as { ms: number }).ms).toBe(Date.UTC(2024, 0, 1));
  });

  it('turns a top-level comma list into an and', () => {
    const node = parseFilter("equals(metric_id,'X'),greater-or-equal(datetime,2024-01-01T00:00:00Z)");
    expect(node.kind).toBe('and');
    expect((node as Extract<FilterNode, { kind: 'and' }>).operands).toHaveLength(2);
  });

  it('parses has() without a value and or/not as combinators', () => {
    expect(parseFilter('has(profile)')).toMatchObject({ kind: 'condition', operator: 'has', field: 'profile' });
    expect(parseFilter("or(equals(a,'1'),equals(b,'2'))").kind).toBe('or');
    expect(parseFilter("not(equals(a,'1'))").kind).toBe('not');
  });

  it.each([
    ["equals(email,'a@b.com'", "expected ')'"],
    ['equals(email,unquoted)', "quote strings"],
    ["equals(email,'open", 'unterminated string'],
    ["equals(email,'a') junk", "unexpected 'j'"],
    ['equals email', "expected '('"],
    ['any(id,[[1]])', 'lists cannot be nested'],
    ['greater-than(updated,2024-13-45T00:00:00Z)', 'not a valid datetime'],
  ])('reports a syntax error with its position: %s', (text, message) => {
    expect(() => parseFilter(text)).toThrow(FilterSyntaxError);
    expect(() => parseFilter(text)).toThrow(message);
  });
});

function validate(operationId: keyof typeof OPERATIONS, text: string, requiredFields?: string[][]): Condition[] {
  const op = OPERATIONS[operationId];
  return validateFilter(parseFilter(text), op.filters, { endpoint: `${op.method} ${op.path}`, requiredFields });
}

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('filter validation against the endpoint metadata', () => {
  it('accepts allowed fields and operators and flattens and()', () => {
    const conditions = validate('get_profiles', "and(equals(email,'a@b.c'),greater-than(updated,2024-01-01T00:00:00Z)),any(id,['1','2'])");
    expect(conditions.map((c) => `${c.operator}:${c.field}`)).toEqual(['equals:email', 'greater-than:updated', 'any:id']);
  });

  it('refuses a field the endpoint does not filter on, naming it', () => {
    const err = refusal(() => validate('get_profiles', "equals(first_name,'Ann')"));
    expect(err.status).toBe(400);
    expect(err.source).toEqual({ parameter: 'filter' });
    expect(err.detail).toContain("'first_name' is not a filterable field of GET /api/profiles");
    expect(err.detail).toContain('email');
  });

  it('refuses an operator the field does not allow, listing the allowed ones', () => {
    const err = refusal(() => validate('get_profiles', 'greater-or-equal(created,2024-01-01T00:00:00Z)'));
    expect(err.detail).toContain("Operator 'greater-or-equal' is not allowed for field 'created'");
    expect(err.detail).toContain('greater-than, less-than');
  });

  it('refuses a value outside the enum', () => {
    const err = refusal(() => validate('get_campaigns', "equals(messages.channel,'fax')"));
    expect(err.detail).toContain("'fax' is not a valid value for 'messages.channel'");
  });

  it('refuses or() and not()', () => {
    expect(refusal(() => validate('get_profiles', "or(equals(email,'a'),equals(email,'b'))")).detail).toContain("'or' operator is not supported");
    expect(refusal(() => validate('get_profiles', "not(equals(email,'a'))")).detail).toContain("'not' operator is not supported");
  });

  it('wants datetimes unquoted and strings quoted', () => {
    expect(refusal(() => validate('get_profiles', "greater-than(updated,'2024-01-01T00:00:00Z')")).detail).toContain('unquoted in ISO 8601');
    expect(refusal(() => validate('get_profiles', 'equals(email,2024-01-01)')).detail).toContain('quote the value');
  });

  it('checks list operators get lists and booleans get booleans', () => {
    expect(refusal(() => validate('get_profiles', "any(email,'a@b.c')")).detail).toContain('needs a non-empty list');
    expect(refusal(() => validate('get_campaigns', "equals(messages.channel,'email'),equals(archived,'yes')")).detail).toContain('is a boolean');
  });

  it('treats fields listed without operators as has() fields (the spec puts has in a group the metadata omits)', () => {
    expect(validate('get_events', 'has(profile)')).toHaveLength(1);
    expect(refusal(() => validate('get_events', "equals(profile,'x')")).detail).toContain('Allowed operators');
  });

  it('enforces required filter fields', () => {
    const err = refusal(() => validate('get_campaigns', "equals(archived,false)", [['messages.channel']]));
    expect(err.detail).toContain("requires a filter on 'messages.channel'");
    expect(err.detail).toContain("equals(messages.channel,'email')");
    expect(validate('get_campaigns', "equals(messages.channel,'sms')", [['messages.channel']])).toHaveLength(1);
  });
});

function resource(attributes: Record<string, unknown>, id = 'P1'): StoredResource {
  return { type: 'profile', id, attributes, relationships: {} };
}

describe('filter evaluation', () => {
  const suppressed = resource({
    email: 'ann@example.com',
    updated: '2024-06-01T12:00:00+00:00',
    subscriptions: {
      email: {
        marketing: {
          suppression: [{ reason: 'HARD_BOUNCE', timestamp: '2024-03-01T00:00:00Z' }],
          list_suppressions: [
            { list_id: 'L1', reason: 'UNSUBSCRIBE', timestamp: '2024-02-01T00:00:00Z' },
            { list_id: 'L2', reason: 'USER_SUPPRESSED', timestamp: '2024-04-01T00:00:00Z' },
          ],
        },
      },
    },
  });
  const plain = resource({ email: 'bob@example.com', updated: '2023-01-01T00:00:00Z', subscriptions: { email: { marketing: { suppression: [], list_suppressions: [] } } } }, 'P2');

  const run = (text: string) => {
    const conditions = validate('get_profiles', text);
    return [suppressed, plain].filter((r) => matchesAll(r, conditions)).map((r) => r.id);
  };

  it('collects values through arrays on dotted paths', () => {
    expect(valuesAtPath(suppressed.attributes, 'subscriptions.email.marketing.list_suppressions.list_id')).toEqual(['L1', 'L2']);
    expect(run("equals(subscriptions.email.marketing.suppression.reason,'HARD_BOUNCE')")).toEqual(['P1']);
    expect(run("equals(subscriptions.email.marketing.list_suppressions.list_id,'L2')")).toEqual(['P1']);
    expect(run("equals(subscriptions.email.marketing.list_suppressions.list_id,'L3')")).toEqual([]);
  });

  it('matches id against the resource id', () => {
    expect(run("any(id,['P2','P9'])")).toEqual(['P2']);
    expect(run("equals(id,'P1')")).toEqual(['P1']);
  });

  it('compares datetimes as instants, not text', () => {
    // '2024-06-01T12:00:00+00:00' vs a Z time: textual comparison would get this wrong.
    expect(run('greater-than(updated,2024-06-01T11:59:59Z)')).toEqual(['P1']);
    expect(run('less-than(updated,2024-06-01T12:00:00Z)')).toEqual(['P2']);
    expect(run('greater-or-equal(subscriptions.email.marketing.suppression.timestamp,2024-03-01T00:00:00Z)')).toEqual(['P1']);
  });

  it('ANDs all conditions', () => {
    expect(run("equals(email,'ann@example.com'),less-than(updated,2020-01-01T00:00:00Z)")).toEqual([]);
    expect(run("any(email,['ann@example.com','bob@example.com']),greater-than(updated,2023-06-01T00:00:00Z)")).toEqual(['P1']);
  });

  it('evaluates text operators and has()', () => {
    const meta = { operators: ['contains', 'starts-with', 'ends-with', 'has', 'contains-any', 'contains-all'], type: 'string' };
    const cond = (operator: string, value?: unknown): Condition => ({ operator, field: 'name', value: value as never, meta });
    const r = { type: 'flow', id: 'F', attributes: { name: 'Welcome Series', tags: ['a', 'b'] }, relationships: {} };
    expect(matchesAll(r, [cond('contains', 'come Se')])).toBe(true);
    expect(matchesAll(r, [cond('contains', 'come se')])).toBe(false);
    expect(matchesAll(r, [cond('starts-with', 'Welcome')])).toBe(true);
    expect(matchesAll(r, [cond('ends-with', 'Welcome')])).toBe(false);
    expect(matchesAll(r, [cond('has')])).toBe(true);
    expect(matchesAll({ ...r, attributes: {} }, [cond('has')])).toBe(false);
    const tags = (operator: string, value: unknown): Condition => ({ operator, field: 'tags', value: value as never, meta });
    expect(matchesAll(r, [tags('contains-any', ['x', 'b'])])).toBe(true);
    expect(matchesAll(r, [tags('contains-all', ['a', 'b'])])).toBe(true);
    expect(matchesAll(r, [tags('contains-all', ['a', 'x'])])).toBe(false);
  });

  it('uses a resolver for fields that are not attributes', () => {
    const meta = { operators: ['equals'], type: 'string' };
    const event = { type: 'event', id: 'E', attributes: {}, relationships: { metric: { type: 'metric', id: 'M1' } } };
    const resolve = (r: StoredResource, field: string) => (field === 'metric_id' ? [(r.relationships.metric as { id: string }).id] : undefined);
    expect(matchesAll(event, [{ operator: 'equals', field: 'metric_id', value: 'M1', meta }], resolve)).toBe(true);
    expect(matchesAll(event, [{ operator: 'equals', field: 'metric_id', value: 'M2', meta }], resolve)).toBe(false);
  });
});
