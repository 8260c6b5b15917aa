/**
 * Checks HTTP exchanges against Klaviyo's OpenAPI spec: the requests klv sends and the responses
 * the emulator gives. This is how the test suite proves that the client speaks Klaviyo's API and
 * that the emulator answers like Klaviyo, instead of the two merely agreeing with each other.
 *
 * The spec is OpenAPI 3.0.2, whose schemas are almost JSON Schema draft-07. The differences
 * handled here: `nullable: true` (becomes a `null` type alternative), refs to `#/components/...`
 * (the components are registered in ajv under SPEC_ID and every ref is rewritten to point there),
 * OpenAPI-only annotations (`example`, `x-*`, `discriminator`) which are dropped, and `oneOf`,
 * which is checked as `anyOf` (see toJsonSchema: Klaviyo's alternatives overlap).
 *
 * Strictness: objects are open or closed exactly as the spec says (it never says
 * `additionalProperties: false`, so JSON Schema leaves them open). On top of that, every resource
 * in `data` and `included` may only carry attribute names the spec declares for its type anywhere
 * in a response: an attribute the spec never mentions is a typo or an invention of the emulator.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import { loadSpec, specAbsentReason, type Spec, type SpecOperation, type SpecParameter, type SpecResponse } from './spec.js';

// ajv-formats is CommonJS with `exports.default`; imported from ESM, the default import is the
// module object, so take `.default` when it is there. (ajv itself exports the class by name.)
const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? addFormatsModule) as FormatsPlugin;
type AjvInstance = Ajv;

/** The id under which the spec's components are registered in ajv. */
const SPEC_ID = 'https://klv.invalid/klaviyo-openapi.json';
const JSON_API = 'application/vnd.api+json';
const METHODS = ['get', 'post', 'patch', 'put', 'delete'] as const;
/** At most this many messages per request or response: one broken resource repeats on every row. */
const MAX_ERRORS = 15;
/** Required lists that survive in sparse-fieldset mode: the JSON:API structure, not attributes. */
const STRUCTURAL_KEYS = new Set(['data', 'type', 'id', 'errors']);
/** Filter combinators: not field operators. */
const FILTER_COMBINATORS = new Set(['and', 'or', 'not']);

/** One line of the emulator's exchange recording (contract 4 of the brief). */
export interface RecordedExchange {
  operationId: string | null;
  method: string;
  path: string;
  query: Record<string, string>;
  requestHeaders: { revision?: string; 'content-type'?: string; accept?: string; [name: string]: string | undefined };
  requestBody: unknown | null;
  status: number;
  responseBody: unknown | null;
}

export interface RequestToCheck {
  method: string;
  /** The path only, without the query string (a query string here is ignored). */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  body?: unknown;
}

export interface ResponseCheckOptions {
  /**
   * The request asked for sparse fieldsets (`fields[type]=...`): Klaviyo then omits attributes
   * the spec marks as required, so only the JSON:API structure stays required.
   */
  sparseFieldsets?: boolean;
  /** Report attributes the spec never declares for the resource's type (default true). */
  unknownAttributes?: boolean;
}

export interface RecordingCheckOptions {
  /** Exchanges a test provoked on purpose (a refused key, a bad page size): not checked. */
  ignore?: (exchange: RecordedExchange) => boolean;
}

export interface RecordingReport {
  /** Exchanges checked (not counting ignored ones and the emulator's /_emulator admin calls). */
  exchanges: number;
  /** Exchanges skipped by `ignore` or because they are admin calls. */
  skipped: number;
  /** One line per problem: `#line METHOD path (operationId) request|response: what is wrong`. */
  problems: string[];
}

interface PathTemplate {
  template: string;
  regex: RegExp;
  /** Literal segments: more means more specific (`/api/lists/bulk` beats `/api/lists/{id}`). */
  literals: number;
  operations: Map<string, string>;
}

export class SpecValidator {
  readonly spec: Spec;
  readonly revision: string;
  #ajv: AjvInstance;
  #ajvSparse: AjvInstance;
  #compiled = new Map<string, ValidateFunction>();
  #operations = new Map<string, { method: string; path: string; op: SpecOperation; params: SpecParameter[] }>();
  #templates: PathTemplate[] = [];
  #attributesByType?: Map<string, Set<string>>;

  constructor(spec: Spec) {
    this.spec = spec;
    this.revision = spec.info.version;
    this.#ajv = makeAjv(spec, false);
    this.#ajvSparse = makeAjv(spec, true);
    for (const [path, item] of Object.entries(spec.paths)) {
      const template: PathTemplate = { template: path, ...compileTemplate(path), operations: new Map() };
      for (const method of METHODS) {
        const op = item[method];
        if (!op?.operationId) continue;
        const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => this.#deref(p) as SpecParameter);
        this.#operations.set(op.operationId, { method: method.toUpperCase(), path, op, params });
        template.operations.set(method.toUpperCase(), op.operationId);
      }
      this.#templates.push(template);
    }
    this.#templates.sort((a, b) => b.literals - a.literals);
  }

  /** The operationId whose path template and method match a concrete request, or null. */
  operationFor(method: string, path: string): string | null {
    const bare = stripQuery(path);
    const m = method.toUpperCase();
    for (const t of this.#templates) {
      if (t.regex.test(bare) && t.operations.has(m)) return t.operations.get(m)!;
    }
    return null;
  }

  /** Problems with a request klv sent for an operation; [] when it is one Klaviyo accepts. */
  validateRequest(operationId: string, req: RequestToCheck): string[] {
    const entry = this.#operations.get(operationId);
    if (!entry) return [`unknown operation ${operationId}: not in the spec (revision ${this.revision})`];
    const { op, params } = entry;
    const problems: string[] = [];
    if (req.method.toUpperCase() !== entry.method) {
      problems.push(`method ${req.method.toUpperCase()} but ${operationId} is ${entry.method} ${entry.path}`);
    }
    const path = stripQuery(req.path);
    if (!compileTemplate(entry.path).regex.test(path)) {
      problems.push(`path ${path} does not match ${operationId}'s template ${entry.path}`);
    }

    const headers = lowerCaseKeys(req.headers);
    for (const p of params.filter((x) => x.in === 'header')) {
      const value = headers[p.name.toLowerCase()];
      if (value === undefined || value === '') {
        if (p.required) problems.push(`missing required header '${p.name}'`);
        continue;
      }
      if (p.name.toLowerCase() === 'revision' && !/^\d{4}-\d{2}-\d{2}(\.[A-Za-z0-9]+)?$/.test(value)) {
        problems.push(`header revision '${value}' is not YYYY-MM-DD[.suffix]`);
      }
    }

    const queryParams = new Map(params.filter((p) => p.in === 'query').map((p) => [p.name, p]));
    for (const p of queryParams.values()) {
      if (p.required && !(p.name in req.query)) problems.push(`missing required query parameter '${p.name}'`);
    }
    for (const [name, value] of Object.entries(req.query)) {
      const p = queryParams.get(name);
      if (!p) {
        const declared = [...queryParams.keys()].join(', ') || 'none';
        problems.push(`query parameter '${name}' is not one ${operationId} declares (declared: ${declared})`);
        continue;
      }
      problems.push(...this.#checkQueryValue(operationId, p, value));
      if (name === 'filter' && op['x-klaviyo-filters']) problems.push(...checkFilter(value, op['x-klaviyo-filters']));
    }

    const hasBody = req.body !== undefined && req.body !== null && req.body !== '';
    const requestBody = op.requestBody ? (this.#deref(op.requestBody) as NonNullable<SpecOperation['requestBody']>) : undefined;
    if (!requestBody) {
      if (hasBody) problems.push(`${operationId} takes no request body, but one was sent`);
    } else if (!hasBody) {
      if (requestBody.required) problems.push(`${operationId} requires a request body, none was sent`);
    } else {
      const schema = requestBody.content?.[JSON_API]?.schema;
      const contentType = headers['content-type'];
      if (schema) {
        if (!contentType) problems.push(`request body sent without a content-type header (expected ${JSON_API})`);
        else if (contentType.split(';')[0].trim().toLowerCase() !== JSON_API) {
          problems.push(`content-type '${contentType}' but ${operationId} takes ${JSON_API}`);
        }
        const validate = this.#compile(`req:${operationId}`, schema, false);
        if (!validate(req.body)) problems.push(...formatErrors('request body', validate.errors));
      }
    }
    return problems;
  }

  /** Problems with a response to an operation; [] when the body is what the spec says for the status. */
  validateResponse(operationId: string, status: number, body: unknown, options: ResponseCheckOptions = {}): string[] {
    const entry = this.#operations.get(operationId);
    if (!entry) return [`unknown operation ${operationId}: not in the spec (revision ${this.revision})`];
    const responses = entry.op.responses ?? {};
    // Exact code first, then the class (4XX), then default: OpenAPI's own precedence.
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => k in responses);
    if (!key) {
      return [`status ${status} is not a response ${operationId} declares (declared: ${Object.keys(responses).join(', ')})`];
    }
    const response = this.#deref(responses[key]) as SpecResponse;
    const schema = response.content?.[JSON_API]?.schema;
    const empty = body === undefined || body === null || body === '';
    if (!response.content || Object.keys(response.content).length === 0) {
      return empty ? [] : [`status ${status} of ${operationId} has no body in the spec, but the response has one`];
    }
    if (!schema) {
      return [`status ${status} of ${operationId} is not ${JSON_API} in the spec (${Object.keys(response.content).join(', ')})`];
    }
    if (empty) return [`status ${status} of ${operationId} must have a ${JSON_API} body, the response has none`];
    const sparse = Boolean(options.sparseFieldsets);
    const validate = this.#compile(`res:${operationId}:${key}`, schema, sparse);
    const problems = validate(body) ? [] : formatErrors('response', validate.errors);
    if (options.unknownAttributes !== false && status < 400) problems.push(...this.#unknownAttributes(body));
    return problems;
  }

  /** Checks one recorded exchange: routing, request and response. */
  validateExchange(ex: RecordedExchange): string[] {
    const problems: string[] = [];
    const expected = this.operationFor(ex.method, ex.path);
    if (!expected) {
      return [`no operation in the spec for ${ex.method} ${ex.path}`];
    }
    if (ex.operationId && ex.operationId !== expected) {
      problems.push(`recorded as ${ex.operationId}, but the spec routes ${ex.method} ${ex.path} to ${expected}`);
    }
    const request = this.validateRequest(expected, {
      method: ex.method,
      path: ex.path,
      query: ex.query ?? {},
      headers: ex.requestHeaders ?? {},
      body: ex.requestBody,
    });
    problems.push(...request.map((p) => `request: ${p}`));
    const sparseFieldsets = Object.keys(ex.query ?? {}).some((k) => k.startsWith('fields['));
    const response = this.validateResponse(expected, ex.status, ex.responseBody, { sparseFieldsets });
    problems.push(...response.map((p) => `response ${ex.status}: ${p.replace(/^response /, '')}`));
    return problems;
  }

  /** Reads the emulator's NDJSON recording and checks every exchange in it. */
  validateRecording(file: string, options: RecordingCheckOptions = {}): RecordingReport {
    const report: RecordingReport = { exchanges: 0, skipped: 0, problems: [] };
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, index) => {
      if (line.trim() === '') return;
      let ex: RecordedExchange;
      try {
        ex = JSON.parse(line) as RecordedExchange;
      } catch (err) {
        report.problems.push(`#${index + 1}: not a JSON line (${(err as Error).message})`);
        return;
      }
      if (stripQuery(ex.path ?? '').startsWith('/_emulator/') || options.ignore?.(ex)) {
        report.skipped += 1;
        return;
      }
      report.exchanges += 1;
      const label = `#${index + 1} ${ex.method} ${ex.path}${formatQuery(ex.query)} (${ex.operationId ?? 'no operation'})`;
      for (const p of this.validateExchange(ex)) report.problems.push(`${label} ${p}`);
    });
    return report;
  }

  #checkQueryValue(operationId: string, p: SpecParameter, raw: string): string[] {
    const schema = p.schema ?? {};
    let value: unknown = raw;
    if (schema.type === 'array') {
      // explode: false (all of Klaviyo's array parameters): one comma-separated value.
      value = raw.split(',');
    } else if (schema.type === 'integer' || schema.type === 'number') {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) return [`query parameter '${p.name}=${raw}' is not a number`];
      value = n;
    } else if (schema.type === 'boolean') {
      if (raw !== 'true' && raw !== 'false') return [`query parameter '${p.name}=${raw}' is not true or false`];
      value = raw === 'true';
    }
    const validate = this.#compile(`param:${operationId}:${p.name}`, schema, false);
    if (validate(value)) return [];
    return formatErrors(`query parameter '${p.name}=${raw}'`, validate.errors);
  }

  #compile(key: string, schema: Record<string, any>, sparse: boolean): ValidateFunction {
    const cacheKey = `${sparse ? 'sparse:' : ''}${key}`;
    const cached = this.#compiled.get(cacheKey);
    if (cached) return cached;
    const fn = (sparse ? this.#ajvSparse : this.#ajv).compile(toJsonSchema(schema, sparse));
    this.#compiled.set(cacheKey, fn);
    return fn;
  }

  /** Resolves a `#/components/...` ref of a parameter, response or request body. */
  #deref<T extends { $ref?: string }>(node: T): T {
    let current: any = node;
    for (let i = 0; current?.$ref && i < 10; i += 1) current = resolvePointer(this.spec, current.$ref);
    return current as T;
  }

  #unknownAttributes(body: unknown): string[] {
    const known = (this.#attributesByType ??= collectResponseAttributes(this.spec, (n) => this.#deref(n)));
    const doc = body as { data?: unknown; included?: unknown };
    if (!doc || typeof doc !== 'object') return [];
    const problems: string[] = [];
    const check = (resource: any, where: string) => {
      if (!resource || typeof resource !== 'object' || !resource.attributes || typeof resource.attributes !== 'object') return;
      const names = known.get(resource.type);
      if (!names) return; // an unknown type is already a schema error (type enums)
      for (const attr of Object.keys(resource.attributes)) {
        if (!names.has(attr)) problems.push(`response ${where}/attributes: '${attr}' is not an attribute the spec declares for ${resource.type}`);
      }
    };
    if (Array.isArray(doc.data)) doc.data.forEach((r, i) => check(r, `/data/${i}`));
    else check(doc.data, '/data');
    if (Array.isArray(doc.included)) doc.included.forEach((r, i) => check(r, `/included/${i}`));
    return dedupe(problems);
  }
}

let defaultValidator: SpecValidator | undefined;

/** The validator for the spec the tests found (see spec.ts); throws with the reason when there is none. */
export function specValidator(): SpecValidator {
  if (defaultValidator) return defaultValidator;
  const spec = loadSpec();
  if (!spec) throw new Error(specAbsentReason() ?? 'Klaviyo OpenAPI spec not found');
  defaultValidator = new SpecValidator(spec);
  return defaultValidator;
}

export function validateResponse(operationId: string, status: number, body: unknown, options?: ResponseCheckOptions): string[] {
  return specValidator().validateResponse(operationId, status, body, options);
}

export function validateRequest(operationId: string, req: RequestToCheck): string[] {
  return specValidator().validateRequest(operationId, req);
}

export function validateRecording(file: string, options?: RecordingCheckOptions): RecordingReport {
  return specValidator().validateRecording(file, options);
}

export function operationFor(method: string, path: string): string | null {
  return specValidator().operationFor(method, path);
}

// ---------------------------------------------------------------------------------------------
// OpenAPI 3.0 schema -> JSON Schema draft-07

function makeAjv(spec: Spec, sparse: boolean): AjvInstance {
  // strict: false because OpenAPI documents carry keywords ajv does not know (description on
  // $ref siblings, readOnly on refs...); the transform removes the ones that would change meaning.
  const ajv = new Ajv({ strict: false, allErrors: true, allowUnionTypes: true, validateSchema: false });
  addFormats(ajv);
  const schemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(spec.components.schemas)) schemas[name] = toJsonSchema(schema, sparse);
  ajv.addSchema({ $id: SPEC_ID, components: { schemas } });
  return ajv;
}

const DROPPED_KEYWORDS = new Set(['example', 'examples', 'discriminator', 'xml', 'externalDocs', 'nullable']);

/** Converts one OpenAPI 3.0 schema (and its sub-schemas) to JSON Schema draft-07. */
export function toJsonSchema(schema: unknown, sparse = false): any {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const src = schema as Record<string, any>;
  const out: Record<string, any> = {};
  for (const [key, value] of Object.entries(src)) {
    if (DROPPED_KEYWORDS.has(key) || key.startsWith('x-')) continue;
    switch (key) {
      case '$ref':
        out.$ref = typeof value === 'string' && value.startsWith('#/') ? `${SPEC_ID}${value}` : value;
        break;
      case 'properties':
        out.properties = Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, toJsonSchema(v, sparse)]));
        break;
      case 'items':
      case 'additionalProperties':
      case 'not':
        out[key] = typeof value === 'object' ? toJsonSchema(value, sparse) : value;
        break;
      case 'allOf':
      case 'anyOf':
        // Appends: a converted oneOf may already have put an allOf here.
        out[key] = [...(out[key] ?? []), ...(value as unknown[]).map((v) => toJsonSchema(v, sparse))];
        break;
      case 'oneOf': {
        // Klaviyo's oneOf means "one of these shapes", not "exactly one": its alternatives are
        // open objects, often identical (EmailSendOptions and SMSSendOptions are the same
        // schema), so any valid value matches several and JSON Schema's oneOf would reject it.
        // Checked as anyOf: the value must still match one of the shapes.
        const alternatives = (value as unknown[]).map((v) => toJsonSchema(v, sparse));
        if (src.anyOf) out.allOf = [...(out.allOf ?? []), { anyOf: alternatives }];
        else out.anyOf = [...(out.anyOf ?? []), ...alternatives];
        break;
      }
      case 'required':
        // Sparse fieldsets drop attributes, required or not; the document structure stays.
        if (!sparse || (value as string[]).some((k) => STRUCTURAL_KEYS.has(k))) out.required = value;
        break;
      default:
        out[key] = value;
    }
  }
  if (src.nullable === true) return makeNullable(out);
  return out;
}

function makeNullable(s: Record<string, any>): Record<string, any> {
  if (typeof s.type === 'string' && !s.$ref && !s.allOf && !s.oneOf && !s.anyOf) {
    const out: Record<string, any> = { ...s, type: [s.type, 'null'] };
    if (Array.isArray(s.enum) && !s.enum.includes(null)) out.enum = [...s.enum, null];
    return out;
  }
  // A ref or a combination: null, or whatever the schema allows. Annotations stay outside.
  const { description, default: dflt, readOnly, writeOnly, ...rest } = s;
  const wrapped: Record<string, any> = { anyOf: [{ type: 'null' }, rest] };
  if (description !== undefined) wrapped.description = description;
  if (readOnly !== undefined) wrapped.readOnly = readOnly;
  if (writeOnly !== undefined) wrapped.writeOnly = writeOnly;
  if (dflt !== undefined) wrapped.default = dflt;
  return wrapped;
}

// ---------------------------------------------------------------------------------------------
// helpers

function compileTemplate(path: string): { regex: RegExp; literals: number } {
  const segments = path.split('/').filter(Boolean);
  const literals = segments.filter((s) => !/^\{.+\}$/.test(s)).length;
  const body = segments
    .map((s) => (/^\{.+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  // Klaviyo's servers (and older SDKs) accept a trailing slash.
  return { regex: new RegExp(`^/${body}/?$`), literals };
}

function stripQuery(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

function formatQuery(query: Record<string, string> | undefined): string {
  const entries = Object.entries(query ?? {});
  return entries.length === 0 ? '' : `?${entries.map(([k, v]) => `${k}=${v}`).join('&')}`;
}

function lowerCaseKeys(headers: Record<string, string | undefined>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`external $ref ${ref} is not supported`);
  let node: any = doc;
  for (const raw of ref.slice(2).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = node?.[part];
    if (node === undefined) throw new Error(`$ref ${ref} does not resolve`);
  }
  return node;
}

function dedupe(items: string[]): string[] {
  return [...new Set(items)];
}

function formatErrors(where: string, errors: ErrorObject[] | null | undefined): string[] {
  if (!errors || errors.length === 0) return [`${where}: invalid`];
  const lines = dedupe(
    errors.map((e) => {
      const at = e.instancePath || '/';
      let detail = e.message ?? 'is invalid';
      const params = e.params as Record<string, unknown>;
      if (e.keyword === 'enum') detail += `: ${JSON.stringify(params.allowedValues)}`;
      if (e.keyword === 'additionalProperties') detail += `: '${params.additionalProperty}'`;
      if (e.keyword === 'const') detail += `: ${JSON.stringify(params.allowedValue)}`;
      return `${where} ${at}: ${detail}`;
    }),
  );
  if (lines.length <= MAX_ERRORS) return lines;
  return [...lines.slice(0, MAX_ERRORS), `${where}: ... and ${lines.length - MAX_ERRORS} more`];
}

/**
 * Checks the fields and operators of a `filter` value against the operation's
 * x-klaviyo-filters: `equals(email,"a@b.c")`, `and(any(id,["1","2"]),has(phone_number))`.
 * Values are not parsed: quoted strings are blanked first so that their content cannot look like
 * an expression.
 */
export function checkFilter(
  filter: string,
  declared: Record<string, { operators?: { single?: string[]; list?: string[] } }>,
): string[] {
  const problems: string[] = [];
  const text = filter.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, "''");
  const expression = /([a-z][a-z-]*)\(\s*([^,()\s]+)\s*[,)]/g;
  let found = 0;
  for (const m of text.matchAll(expression)) {
    const [, operator, field] = m;
    if (FILTER_COMBINATORS.has(operator)) continue;
    found += 1;
    const spec = declared[field];
    if (!spec) {
      problems.push(`filter field '${field}' is not filterable here (filterable: ${Object.keys(declared).join(', ')})`);
      continue;
    }
    const operators = new Set([...(spec.operators?.single ?? []), ...(spec.operators?.list ?? [])]);
    if (!operators.has(operator)) {
      problems.push(`filter operator '${operator}' is not allowed on '${field}' (allowed: ${[...operators].join(', ')})`);
    }
  }
  if (found === 0) problems.push(`filter '${filter}' has no operator(field,...) expression`);
  return problems;
}

/**
 * Every attribute name the spec declares, per resource type, across all success responses
 * (including the allOf branches that add `additional-fields` attributes such as
 * profile.subscriptions).
 */
function collectResponseAttributes(spec: Spec, deref: (n: any) => any): Map<string, Set<string>> {
  const byType = new Map<string, Set<string>>();
  const seen = new Set<unknown>();
  const propertiesOf = (schema: any): Record<string, unknown> => {
    const s = deref(schema);
    if (!s || typeof s !== 'object') return {};
    const out: Record<string, unknown> = { ...(s.properties ?? {}) };
    for (const part of [...(s.allOf ?? []), ...(s.oneOf ?? []), ...(s.anyOf ?? [])]) Object.assign(out, propertiesOf(part));
    return out;
  };
  const visit = (schema: any) => {
    const s = deref(schema);
    if (!s || typeof s !== 'object' || seen.has(s)) return;
    seen.add(s);
    const props = s.properties ?? {};
    if (props.type && props.attributes) {
      const typeSchema = deref(props.type);
      for (const type of typeSchema?.enum ?? []) {
        const names = byType.get(type) ?? new Set<string>();
        for (const name of Object.keys(propertiesOf(props.attributes))) names.add(name);
        byType.set(type, names);
      }
    }
    for (const v of Object.values(props)) visit(v);
    if (s.items) visit(s.items);
    for (const part of [...(s.allOf ?? []), ...(s.oneOf ?? []), ...(s.anyOf ?? [])]) visit(part);
  };
  for (const item of Object.values(spec.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      for (const [code, response] of Object.entries(op.responses ?? {})) {
        if (!/^2\d\d$/.test(code)) continue;
        const schema = deref(response)?.content?.[JSON_API]?.schema;
        if (schema) visit(schema);
      }
    }
  }
  return byType;
}
