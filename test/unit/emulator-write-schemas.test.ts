/**
 * The emulator's request schemas (src/emulator/handlers/write-request-schemas.ts) are a compact
 * copy of the request schemas in Klaviyo's OpenAPI spec. This test converts the spec's schemas
 * again and fails on any difference, so the copy cannot drift from the spec.
 *
 * To add an endpoint or follow a new spec revision, regenerate the file:
 *   KLV_UPDATE_WRITE_SCHEMAS=1 npx vitest run test/unit/emulator-write-schemas.test.ts
 * and, for new operations, name them: KLV_ADD_WRITE_SCHEMAS=create_template,update_template.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { loadSpec, type Spec } from '../helpers/spec.js';
import { WRITE_REQUEST_SCHEMAS } from '../../src/emulator/handlers/write-request-schemas.js';
import { validateRequestBody, WriteRefusal, type BodySchema } from '../../src/emulator/handlers/write-schema.js';

const FILE = join(REPO_ROOT, 'src/emulator/handlers/write-request-schemas.ts');
const spec = loadSpec();

/** The operations the emulator's write side validates; the file must hold at least these. */
const EXPECTED = [
  'create_profile',
  'update_profile',
  'create_or_update_profile',
  'bulk_import_profiles',
  'create_list',
  'update_list',
  'add_profiles_to_list',
  'remove_profiles_from_list',
  'bulk_subscribe_profiles',
  'bulk_unsubscribe_profiles',
  'bulk_suppress_profiles',
  'bulk_unsuppress_profiles',
  'bulk_create_events',
  'create_event',
  'create_push_token',
];

function requestSchemaOf(spec: Spec, operationId: string): unknown {
  for (const item of Object.values(spec.paths)) {
    for (const method of ['post', 'patch', 'put', 'delete'] as const) {
      const op = item[method] as { operationId?: string; requestBody?: { content?: Record<string, { schema?: unknown }> } } | undefined;
      if (op?.operationId === operationId) {
        const schema = op.requestBody?.content?.['application/vnd.api+json']?.schema;
        if (!schema) throw new Error(`${operationId} has no application/vnd.api+json request body in the spec`);
        return schema;
      }
    }
  }
  throw new Error(`${operationId} is not an operation of the spec`);
}

/** The spec's schema in the emulator's compact form (see BodySchema). */
function convert(spec: Spec, raw: any, depth = 0): BodySchema {
  if (depth > 40) throw new Error('schema nests deeper than 40 levels: a recursive $ref?');
  let s = raw;
  while (s && s.$ref) s = spec.components.schemas[String(s.$ref).split('/').pop()!];
  if (!s || typeof s !== 'object') return { type: 'any' };
  const nullable = s.nullable === true ? { nullable: true } : {};
  const options = s.oneOf ?? s.anyOf;
  if (options) return { anyOf: options.map((o: unknown) => convert(spec, o, depth + 1)), ...nullable };
  if (s.allOf) {
    const parts = s.allOf.map((o: unknown) => convert(spec, o, depth + 1));
    const properties: Record<string, BodySchema> = {};
    const required: string[] = [];
    for (const p of parts) {
      if (p.type !== 'object') throw new Error('allOf of a non-object: extend convert()');
      Object.assign(properties, p.properties ?? {});
      required.push(...(p.required ?? []));
    }
    return { type: 'object', properties, ...(required.length ? { required } : {}), ...nullable };
  }
  const type = s.type ?? (s.properties ? 'object' : undefined);
  switch (type) {
    case 'object': {
      if (!s.properties) return { type: 'object', ...nullable };
      const properties: Record<string, BodySchema> = {};
      for (const [name, child] of Object.entries(s.properties)) properties[name] = convert(spec, child, depth + 1);
      return { type: 'object', properties, ...(s.required?.length ? { required: [...s.required] } : {}), ...nullable };
    }
    case 'array':
      return { type: 'array', items: convert(spec, s.items, depth + 1), ...nullable };
    case 'string':
      return {
        type: 'string',
        ...(s.enum ? { enum: s.enum.filter((v: unknown) => v !== null) } : {}),
        ...(s.format === 'date-time' || s.format === 'date' ? { format: s.format } : {}),
        ...nullable,
      };
    case 'number':
    case 'integer':
    case 'boolean':
      return { type, ...nullable };
    default:
      return { type: 'any' };
  }
}

function render(schemas: Record<string, BodySchema>): string {
  const lines = Object.keys(schemas)
    .sort()
    .map((id) => `  ${id}: ${JSON.stringify(schemas[id])},`);
  return [
    '// GENERATED from the request schemas of Klaviyo\'s OpenAPI spec by test/unit/emulator-write-schemas.test.ts',
    '// (KLV_UPDATE_WRITE_SCHEMAS=1). Do not edit by hand: that test fails when this differs from the spec.',
    "import type { BodySchema } from './write-schema.js';",
    '',
    'export const WRITE_REQUEST_SCHEMAS: Readonly<Record<string, BodySchema>> = {',
    ...lines,
    '};',
    '',
  ].join('\n');
}

describe('write request schemas', () => {
  it.skipIf(!spec)('match the spec exactly (regenerate with KLV_UPDATE_WRITE_SCHEMAS=1)', () => {
    const wanted = new Set([...Object.keys(WRITE_REQUEST_SCHEMAS), ...EXPECTED, ...(process.env.KLV_ADD_WRITE_SCHEMAS ?? '').split(',').filter(Boolean)]);
    const fresh: Record<string, BodySchema> = {};
    for (const id of wanted) fresh[id] = convert(spec!, requestSchemaOf(spec!, id));
    if (process.env.KLV_UPDATE_WRITE_SCHEMAS) writeFileSync(FILE, render(fresh));
    else expect(WRITE_REQUEST_SCHEMAS, 'the emulator\'s request schemas differ from the spec: regenerate them (see the top of this test)').toEqual(fresh);
  });

  // While regenerating, the module loaded above is the old file: checked on the next plain run.
  it.skipIf(Boolean(process.env.KLV_UPDATE_WRITE_SCHEMAS))('hold every operation the write handlers validate', () => {
    expect(Object.keys(WRITE_REQUEST_SCHEMAS)).toEqual(expect.arrayContaining(EXPECTED));
  });
});

describe('validateRequestBody', () => {
  const refusal = (operationId: string, body: unknown): WriteRefusal => {
    try {
      validateRequestBody(operationId, body);
    } catch (err) {
      if (err instanceof WriteRefusal) return err;
      throw err;
    }
    throw new Error('expected a refusal');
  };

  it('accepts a body shaped as the spec says', () => {
    const body = { data: { type: 'list', attributes: { name: 'VIP', opt_in_process: 'single_opt_in' } } };
    expect(validateRequestBody('create_list', body)).toBe(body);
  });

  it('refuses unknown attributes in Klaviyo\'s words, with a pointer to each', () => {
    const r = refusal('create_profile', { data: { type: 'profile', attributes: { email: 'a@example.com', frist_name: 'Ann', nickname: 'A' } } });
    expect(r.status).toBe(400);
    expect(r.problems.map((p) => [p.pointer, p.detail])).toEqual([
      ['/data/attributes/frist_name', "'frist_name' is not a valid field for the resource 'profile'."],
      ['/data/attributes/nickname', "'nickname' is not a valid field for the resource 'profile'."],
    ]);
  });

  it('leaves free-form objects open (custom properties)', () => {
    expect(() => validateRequestBody('create_profile', { data: { type: 'profile', attributes: { email: 'a@example.com', properties: { anything: { goes: [1] } } } } })).not.toThrow();
  });

  it('names missing required fields, wrong types, bad enums and bad datetimes', () => {
    expect(refusal('create_list', { data: { type: 'list', attributes: {} } }).problems[0]).toMatchObject({ pointer: '/data/attributes/name', detail: expect.stringContaining("'name' is a required field") });
    expect(refusal('create_list', { data: { type: 'list', attributes: { name: 7 } } }).problems[0]).toMatchObject({ pointer: '/data/attributes/name', detail: expect.stringContaining('must be a string') });
    expect(refusal('create_list', { data: { type: 'list', attributes: { name: 'x', opt_in_process: 'triple' } } }).problems[0].detail).toContain('valid choices: double_opt_in, single_opt_in');
    expect(refusal('create_list', { data: { type: 'lists', attributes: { name: 'x' } } }).problems[0].pointer).toBe('/data/type');
    const ev = { data: { type: 'event', attributes: { properties: {}, time: 'yesterday', metric: { data: { type: 'metric', attributes: { name: 'M' } } }, profile: { data: { type: 'profile', attributes: { email: 'a@example.com' } } } } } };
    expect(refusal('create_event', ev).problems[0]).toMatchObject({ pointer: '/data/attributes/time', detail: expect.stringContaining('ISO 8601') });
  });

  it('refuses a missing body and null where the spec does not allow it', () => {
    expect(refusal('create_list', null).problems[0].detail).toContain('request body is missing');
    expect(refusal('create_list', { data: { type: 'list', attributes: { name: null } } }).problems[0].detail).toContain('may not be null');
  });

  it('renders a Klaviyo error document with every problem', () => {
    const doc = refusal('create_profile', { data: { type: 'profile', attributes: { a: 1, b: 2 } } }).document();
    expect(doc.errors).toHaveLength(2);
    expect(doc.errors[0]).toMatchObject({ status: 400, code: 'invalid', title: 'Invalid input.', source: { pointer: '/data/attributes/a' } });
    expect(typeof doc.errors[0]!.id).toBe('string');
  });
});
