#!/usr/bin/env node
/**
 * Generates src/klaviyo/generated/api-metadata.ts (what the client and the emulator use at run
 * time) and src/klaviyo/generated/api-responses.ts (the shape of each operation's answer, as
 * types) from Klaviyo's official OpenAPI spec.
 *
 *   npm run gen:api                 # reads ../shared/klaviyo-openapi/stable.json
 *   KLV_OPENAPI_SPEC=path npm run gen:api
 *   node scripts/gen-api.mjs --check  # exits 1 when a committed file differs (used by the tests)
 *
 * The spec is the contract; the generated file is what the code uses at run time, so that klv
 * never ships or parses the 3 MB spec. Like Klaviyo's own Go CLI, we keep only what the client
 * and the emulator need: method, path, rate limits, page sizes, filters, sorts, sparse fieldsets,
 * includes, scopes, required parameters, and each resource type's attribute names and types.
 */
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
export const OUTPUT = resolve(root, 'src/klaviyo/generated/api-metadata.ts');
export const RESPONSES_OUTPUT = resolve(root, 'src/klaviyo/generated/api-responses.ts');

export function defaultSpecPath() {
  return process.env.KLV_OPENAPI_SPEC || resolve(root, '../shared/klaviyo-openapi/stable.json');
}

const HTTP_METHODS = ['get', 'post', 'patch', 'put', 'delete'];

/** "75/s" -> 75; "750/m" -> 750; "150/d" -> 150 */
function parseLimit(text) {
  if (!text) return null;
  const m = /^(\d+)\/([smd])$/.exec(String(text).trim());
  if (!m) throw new Error(`unexpected rate limit ${JSON.stringify(text)}`);
  return Number(m[1]);
}

function makeResolver(spec) {
  return function deref(schema) {
    let s = schema;
    const seen = new Set();
    while (s && s.$ref) {
      if (seen.has(s.$ref)) break;
      seen.add(s.$ref);
      const parts = s.$ref.replace(/^#\//, '').split('/');
      let target = spec;
      for (const p of parts) target = target?.[p];
      const { $ref, ...rest } = s;
      s = { ...target, ...rest };
    }
    return s;
  };
}

/** Flattens allOf and refs into one object schema with merged properties. */
function flatten(schema, deref) {
  const s = deref(schema);
  if (!s) return {};
  if (!s.allOf) return s;
  const out = { ...s, properties: { ...(s.properties || {}) }, allOf: undefined };
  const required = new Set(s.required || []);
  for (const part of s.allOf) {
    const p = flatten(part, deref);
    for (const [k, v] of Object.entries(p.properties || {})) {
      if (out.properties[k]) out.properties[k] = { allOf: [out.properties[k], v] };
      else out.properties[k] = v;
    }
    for (const r of p.required || []) required.add(r);
    if (p.type && !out.type) out.type = p.type;
    if (p.enum && !out.enum) out.enum = p.enum;
  }
  out.required = [...required];
  delete out.allOf;
  return out;
}

/** A small, stable description of an attribute's type: enough for CSV columns and the emulator. */
function describeType(schema, deref, depth) {
  const s = flatten(schema, deref);
  const out = {};
  let type = s.type;
  if (!type && s.oneOf) type = 'oneOf';
  if (!type && s.anyOf) type = 'oneOf';
  if (!type && s.properties) type = 'object';
  out.type = type || 'any';
  if (s.format) out.format = s.format;
  if (s.nullable || (schema && schema.nullable)) out.nullable = true;
  if (s.enum) out.enum = [...s.enum];
  if (out.type === 'object' && s.properties && depth < 4) {
    out.properties = {};
    for (const [k, v] of Object.entries(s.properties).sort(([a], [b]) => a.localeCompare(b))) {
      out.properties[k] = describeType(v, deref, depth + 1);
    }
  }
  if (out.type === 'array' && s.items && depth < 4) {
    const items = describeType(s.items, deref, depth + 1);
    out.items = items;
  }
  return out;
}

function parsePageSize(param) {
  if (!param) return null;
  const sch = param.schema || {};
  const m = /Default: (\d+)\. Min: (\d+)\. Max: (\d+)\./.exec(param.description || '');
  const def = sch.default ?? (m ? Number(m[1]) : null);
  const min = sch.minimum ?? (m ? Number(m[2]) : 1);
  const max = sch.maximum ?? (m ? Number(m[3]) : null);
  return { default: def, min, max };
}

/**
 * Some parameters move a request to a slower rate-limit tier; the spec says so only in prose:
 * "Rate limits when using the `additional-fields[list]=profile_count` parameter ...: Burst: `1/s`
 * Steady: `15/m`". Klaviyo counts those requests apart, so the client and the emulator need them.
 */
function rateLimitTiers(op, byName) {
  const tiers = [];
  const re = /Rate limits when using the `([^`=]+)=([^`]+)` parameter[^]*?Burst: `([^`]+)`[^]*?Steady: `([^`]+)`/g;
  for (const m of (op.description || '').matchAll(re)) {
    const [, parameter, rawValue, burst, steady] = m;
    const allowed = byName[parameter]?.schema?.items?.enum || byName[parameter]?.schema?.enum || [];
    // The prose says `include=list` where the parameter's enum says `lists`.
    const value = allowed.includes(rawValue) || !allowed.includes(`${rawValue}s`) ? rawValue : `${rawValue}s`;
    tiers.push({ parameter, value, burst: parseLimit(burst), steady: parseLimit(steady), daily: null });
  }
  return tiers;
}

/** Metrics and a few others have no page[size] but document a fixed page size in prose. */
function fixedPageSize(op) {
  const m = /maximum of (\d+) results per page/i.exec(op.description || '');
  return m ? Number(m[1]) : null;
}

function resourceInfo(schema, deref) {
  // data may be an object, an array of objects, or (for relationships) identifiers.
  const doc = flatten(schema, deref);
  const data = doc.properties?.data;
  if (!data) return null;
  let d = deref(data);
  const isCollection = d.type === 'array';
  // A to-one relationship's `data` may be null (no template assigned yet); a resource's may not.
  const isNullable = !isCollection && Boolean(d.nullable);
  if (isCollection) d = d.items;
  const res = flatten(d, deref);
  const typeSchema = res.properties?.type ? flatten(res.properties.type, deref) : null;
  const type = typeSchema?.enum?.[0] ?? null;
  const attrs = res.properties?.attributes ? flatten(res.properties.attributes, deref) : null;
  const attributes = {};
  for (const [k, v] of Object.entries(attrs?.properties || {})) attributes[k] = describeType(v, deref, 1);
  return {
    type,
    isCollection,
    isNullable,
    attributes,
    requiredAttributes: attrs?.required || [],
    relationships: Object.keys(flatten(res.properties?.relationships || {}, deref).properties || {}).sort(),
  };
}

export function generate(spec) {
  const deref = makeResolver(spec);
  const operations = {};
  const resources = {};
  const paths = Object.keys(spec.paths).filter((p) => p.startsWith('/api/')).sort();
  for (const path of paths) {
    const item = spec.paths[path];
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!op || !op.operationId) continue;
      const params = [...(item.parameters || []), ...(op.parameters || [])].map(deref);
      const byName = Object.fromEntries(params.map((p) => [p.name, p]));
      const rl = op['x-klaviyo-ratelimit'] || {};
      const filters = {};
      for (const [field, f] of Object.entries(op['x-klaviyo-filters'] || {})) {
        // Operators come in groups by value shape: single, list, and none (`has(field)` takes no value).
        const ops = new Set(Object.values(f.operators || {}).flat());
        const v = f.value || {};
        filters[field] = {
          operators: [...ops].sort(),
          type: v.type || 'string',
          ...(v.format ? { format: v.format } : {}),
          ...(v.enum ? { enum: [...v.enum] } : {}),
        };
      }
      const fields = {};
      const additionalFields = {};
      for (const p of params) {
        const fm = /^fields\[(.+)\]$/.exec(p.name);
        if (fm) fields[fm[1]] = [...(p.schema?.items?.enum || [])];
        const am = /^additional-fields\[(.+)\]$/.exec(p.name);
        if (am) additionalFields[am[1]] = [...(p.schema?.items?.enum || [])];
      }
      const sortEnum = byName.sort?.schema?.enum || [];
      const sort = [...new Set(sortEnum.map((s) => s.replace(/^-/, '')))].sort();
      const include = [...(byName.include?.schema?.items?.enum || [])].sort();
      const successCode = Object.keys(op.responses || {}).find((c) => /^2\d\d$/.test(c)) || null;
      const successResp = successCode ? deref(op.responses[successCode]) : null;
      const responseSchema = successResp?.content?.['application/vnd.api+json']?.schema;
      const requestSchema = op.requestBody ? deref(op.requestBody).content?.['application/vnd.api+json']?.schema : null;
      const resp = responseSchema ? resourceInfo(responseSchema, deref) : null;
      const req = requestSchema ? resourceInfo(requestSchema, deref) : null;
      for (const info of [resp]) {
        if (!info?.type || Object.keys(info.attributes).length === 0) continue;
        const r = (resources[info.type] ??= { attributes: {}, relationships: [] });
        for (const [k, v] of Object.entries(info.attributes)) r.attributes[k] ??= v;
        r.relationships = [...new Set([...r.relationships, ...info.relationships])].sort();
      }
      const pageSizeParam = byName['page[size]'];
      operations[op.operationId] = {
        operationId: op.operationId,
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        requiredQuery: params.filter((p) => p.in === 'query' && p.required).map((p) => p.name),
        rateLimit: { burst: parseLimit(rl.burst), steady: parseLimit(rl.steady), daily: parseLimit(rl.daily) },
        rateLimitTiers: rateLimitTiers(op, byName),
        pageSize: pageSizeParam ? parsePageSize(pageSizeParam) : null,
        fixedPageSize: pageSizeParam ? null : fixedPageSize(op),
        paginated: Boolean(byName['page[cursor]']),
        filters,
        sort,
        include,
        fields,
        additionalFields,
        scopes: [...(op['x-klaviyo-scopes'] || [])],
        successStatus: successCode ? Number(successCode) : null,
        responseType: resp?.type ?? null,
        responseIsCollection: resp?.isCollection ?? false,
        responseIsNullable: resp?.isNullable ?? false,
        requestType: req?.type ?? null,
        requestAttributes: req ? Object.keys(req.attributes).sort() : [],
        requiredRequestAttributes: req ? [...req.requiredAttributes].sort() : [],
      };
    }
  }
  const sortedResources = Object.fromEntries(Object.entries(resources).sort(([a], [b]) => a.localeCompare(b)));
  for (const r of Object.values(sortedResources)) {
    r.attributes = Object.fromEntries(Object.entries(r.attributes).sort(([a], [b]) => a.localeCompare(b)));
  }
  return { revision: spec.info.version, operations, resources: sortedResources };
}

export function render(meta) {
  const ids = Object.keys(meta.operations);
  const lines = [
    '// GENERATED by scripts/gen-api.mjs from Klaviyo\'s OpenAPI spec. Do not edit: run `npm run gen:api`.',
    "import type { OperationMeta, ResourceMeta } from '../api-metadata-types.js';",
    '',
    `export const SPEC_REVISION = ${JSON.stringify(meta.revision)};`,
    '',
    'export type OperationId =',
    ...ids.map((id, i) => `  | ${JSON.stringify(id)}${i === ids.length - 1 ? ';' : ''}`),
    '',
    'export const OPERATIONS: Record<OperationId, OperationMeta> = {',
    ...ids.map((id) => `  ${JSON.stringify(id)}: ${JSON.stringify(meta.operations[id])},`),
    '};',
    '',
    'export const RESOURCES: Record<string, ResourceMeta> = {',
    ...Object.entries(meta.resources).map(([t, r]) => `  ${JSON.stringify(t)}: ${JSON.stringify(r)},`),
    '};',
    '',
  ];
  return lines.join('\n');
}

/** What each operation's 2xx answer is, as the client's check (response-check.ts) accepts it. */
export function responseShape(op) {
  if (op.responseType === null) return 'none';
  if (op.responseIsCollection) return 'many';
  return op.responseIsNullable ? 'one-or-null' : 'one';
}

const SHAPE_TYPES = [
  ['many', 'ManyOperation', "Operations whose answer's `data` is a list of resources (collections, to-many relationships)."],
  ['one', 'OneOperation', "Operations whose answer's `data` is one resource."],
  ['one-or-null', 'OneOrNullOperation', "Operations whose answer's `data` is one resource, or null (to-one relationships)."],
  ['none', 'NoDocumentOperation', 'Operations that answer without a JSON:API document (202 Accepted, 204 No Content).'],
];

/** The operations by answer shape, as union types: src/klaviyo/responses.ts maps them to document types. */
export function renderResponses(meta) {
  const lines = [
    "// GENERATED by scripts/gen-api.mjs from Klaviyo's OpenAPI spec. Do not edit: run `npm run gen:api`.",
    '// The operations by the shape of their 2xx answer; src/klaviyo/responses.ts turns them into document types.',
  ];
  for (const [shape, name, doc] of SHAPE_TYPES) {
    const ids = Object.values(meta.operations)
      .filter((op) => responseShape(op) === shape)
      .map((op) => op.operationId);
    lines.push('', `/** ${doc} */`, `export type ${name} =`);
    lines.push(...(ids.length === 0 ? ['  never;'] : ids.map((id, i) => `  | ${JSON.stringify(id)}${i === ids.length - 1 ? ';' : ''}`)));
  }
  lines.push('');
  return lines.join('\n');
}

function main() {
  const args = process.argv.slice(2);
  const specPath = defaultSpecPath();
  if (!existsSync(specPath)) {
    console.error(`gen-api: no spec at ${specPath}. Set KLV_OPENAPI_SPEC or place ../shared/klaviyo-openapi/stable.json.`);
    process.exit(2);
  }
  const spec = JSON.parse(readFileSync(specPath, 'utf8'));
  const meta = generate(spec);
  const outputs = [
    [OUTPUT, render(meta)],
    [RESPONSES_OUTPUT, renderResponses(meta)],
  ];
  if (args.includes('--check')) {
    let stale = false;
    for (const [file, text] of outputs) {
      const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
      if (current !== text) {
        console.error(`gen-api: ${file} is out of date with ${specPath}; run npm run gen:api`);
        stale = true;
      }
    }
    if (stale) process.exit(1);
    console.error('gen-api: up to date');
    return;
  }
  for (const [file, text] of outputs) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  console.error(`gen-api: wrote ${Object.keys(meta.operations).length} operations to ${OUTPUT} and ${RESPONSES_OUTPUT}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
