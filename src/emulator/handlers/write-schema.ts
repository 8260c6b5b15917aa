/**
 * Request-body validation for the emulator's write endpoints. Klaviyo's OpenAPI spec is not
 * shipped with klv, so the request schemas the emulator checks against are a compact copy of the
 * spec's (write-request-schemas.ts), kept in step with the spec by a test
 * (test/unit/emulator-write-schemas.test.ts) that regenerates them and fails on any difference.
 *
 * Strictness is Klaviyo's, not JSON Schema's: the spec never says `additionalProperties: false`,
 * yet Klaviyo refuses attributes it does not know ("'frist_name' is not a valid field for the
 * resource 'profile'."), so an object with declared properties is closed here. Objects the spec
 * leaves free-form (`properties`, `meta.patch_properties.append`) stay open.
 */
import { isPlainObject } from '../../core/json.js';
import { ApiError } from '../http/api-error.js';
import { WRITE_REQUEST_SCHEMAS } from './write-request-schemas.js';

export type BodySchema =
  | { type: 'object'; properties?: Readonly<Record<string, BodySchema>>; required?: readonly string[]; nullable?: boolean }
  | { type: 'array'; items: BodySchema; nullable?: boolean }
  | { type: 'string'; enum?: readonly string[]; format?: 'date-time' | 'date'; nullable?: boolean }
  | { type: 'number' | 'integer' | 'boolean'; nullable?: boolean }
  | { anyOf: readonly BodySchema[]; nullable?: boolean }
  | { type: 'any' };

/** One problem with a request, as one entry of Klaviyo's `errors` array. */
export interface Problem {
  code: string;
  detail: string;
  pointer?: string;
  /** Extra members of the error object (409 duplicate_profile: `{duplicate_profile_id}`). */
  meta?: Record<string, unknown>;
}

/**
 * A refused write: one status, every problem found. Klaviyo lists each offending profile of a
 * bulk request in its own error with a pointer to it, which is what lets a client drop exactly
 * those rows and resend the rest.
 */
export class WriteRefusal extends Error {
  constructor(
    readonly status: number,
    readonly problems: Problem[],
    readonly headers: Record<string, string> = {},
  ) {
    super(problems.map((p) => p.detail).join(' '));
    this.name = 'WriteRefusal';
  }

  document(): { errors: Record<string, unknown>[] } {
    return {
      errors: this.problems.map((p) => ({
        ...new ApiError(this.status, p.code, p.detail, p.pointer === undefined ? {} : { source: { pointer: p.pointer } }).toJSON(),
        ...(p.meta ? { meta: p.meta } : {}),
      })),
    };
  }
}

export function invalid(detail: string, pointer?: string): WriteRefusal {
  return new WriteRefusal(400, [{ code: 'invalid', detail, pointer }]);
}

/** At most this many problems are reported for one request (one broken field repeats on every profile). */
const MAX_PROBLEMS = 100;

/**
 * Checks a request body against the operation's request schema. Throws a 400 WriteRefusal
 * listing the problems (each with a JSON pointer) or returns the body, now known to be shaped
 * as the spec says.
 */
export function validateRequestBody<T = unknown>(operationId: string, body: unknown): T {
  const schema = WRITE_REQUEST_SCHEMAS[operationId];
  if (!schema) throw new Error(`No request schema for ${operationId}: add it to write-request-schemas.ts (see emulator-write-schemas.test.ts).`);
  if (body === null || body === undefined) throw invalid('The request body is missing: this endpoint takes a JSON:API document {"data": ...}.', '/');
  const problems: Problem[] = [];
  check(body, schema, '', problems, resourceTypeOf(body));
  if (problems.length > 0) throw new WriteRefusal(400, problems);
  return body as T;
}

function resourceTypeOf(body: unknown): string {
  const type = (body as { data?: { type?: unknown } } | null)?.data?.type;
  return typeof type === 'string' ? type : 'resource';
}

function check(value: unknown, schema: BodySchema, pointer: string, problems: Problem[], resource: string): void {
  if (problems.length >= MAX_PROBLEMS) return;
  if ('type' in schema && schema.type === 'any') return;
  if (value === null) {
    if (!schema.nullable) problems.push({ code: 'invalid', detail: `${describePointer(pointer)} may not be null.`, pointer: pointer || '/' });
    return;
  }
  if ('anyOf' in schema) {
    for (const option of schema.anyOf) {
      const trial: Problem[] = [];
      check(value, option, pointer, trial, resource);
      if (trial.length === 0) return;
    }
    problems.push({ code: 'invalid', detail: `${describePointer(pointer)} has the wrong type (${describe(value)}): expected ${schema.anyOf.map(typeName).join(' or ')}.`, pointer });
    return;
  }
  switch (schema.type) {
    case 'object': {
      if (!isPlainObject(value)) {
        problems.push({ code: 'invalid', detail: `${describePointer(pointer)} must be an object, not ${describe(value)}.`, pointer: pointer || '/' });
        return;
      }
      if (!schema.properties) return;
      // The resource an attribute belongs to, for Klaviyo's wording of unknown fields.
      const owner = typeof value.type === 'string' ? value.type : resource;
      for (const name of schema.required ?? []) {
        if (!(name in value)) problems.push({ code: 'invalid', detail: `'${name}' is a required field${pointer ? ` of ${describePointer(pointer)}` : ''}.`, pointer: `${pointer}/${escapePointer(name)}` });
      }
      for (const [name, child] of Object.entries(value)) {
        const at = `${pointer}/${escapePointer(name)}`;
        const childSchema = schema.properties[name];
        if (!childSchema) {
          problems.push({ code: 'invalid', detail: `'${name}' is not a valid field for the resource '${owner}'.`, pointer: at });
          continue;
        }
        check(child, childSchema, at, problems, owner);
      }
      return;
    }
    case 'array':
      if (!Array.isArray(value)) {
        problems.push({ code: 'invalid', detail: `${describePointer(pointer)} must be an array, not ${describe(value)}.`, pointer });
        return;
      }
      value.forEach((item, i) => check(item, schema.items, `${pointer}/${i}`, problems, resource));
      return;
    case 'string':
      if (typeof value !== 'string') {
        problems.push({ code: 'invalid', detail: `${describePointer(pointer)} must be a string, not ${describe(value)}.`, pointer });
        return;
      }
      if (schema.enum && !schema.enum.includes(value)) {
        problems.push({ code: 'invalid', detail: `'${value}' is not a valid choice for ${describePointer(pointer)}; valid choices: ${schema.enum.join(', ')}.`, pointer });
        return;
      }
      if (schema.format === 'date-time' && !isDateTime(value)) {
        problems.push({ code: 'invalid', detail: `'${value}' is not a valid ISO 8601 datetime for ${describePointer(pointer)} (e.g. 2026-03-01T12:00:00Z).`, pointer });
      } else if (schema.format === 'date' && !isDate(value)) {
        problems.push({ code: 'invalid', detail: `'${value}' is not a valid date for ${describePointer(pointer)} (YYYY-MM-DD).`, pointer });
      }
      return;
    case 'number':
    case 'integer':
      if (typeof value !== 'number' || !Number.isFinite(value) || (schema.type === 'integer' && !Number.isInteger(value))) {
        problems.push({ code: 'invalid', detail: `${describePointer(pointer)} must be ${schema.type === 'integer' ? 'an integer' : 'a number'}, not ${describe(value)}.`, pointer });
      }
      return;
    case 'boolean':
      if (typeof value !== 'boolean') problems.push({ code: 'invalid', detail: `${describePointer(pointer)} must be true or false, not ${describe(value)}.`, pointer });
      return;
  }
}

/** ISO 8601 date and time, with a zone or without (Klaviyo reads a bare time as UTC). */
export function isDateTime(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(value) && !Number.isNaN(Date.parse(value));
}

function isDate(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`));
}

function typeName(schema: BodySchema): string {
  if ('anyOf' in schema) return schema.anyOf.map(typeName).join(' or ');
  return schema.type === 'any' ? 'anything' : schema.type;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** `/data/attributes/name` → `'data.attributes.name'`; the root → 'the request body'. */
function describePointer(pointer: string): string {
  return pointer ? `'${pointer.slice(1).split('/').map(unescapePointer).join('.')}'` : 'the request body';
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}
