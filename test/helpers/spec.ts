/**
 * Where the tests find Klaviyo's official OpenAPI spec. It is never copied into the repository
 * (it is Klaviyo's, and 3 MB): CI clones klv beside a `shared/` folder that holds it, and a
 * developer can point KLV_OPENAPI_SPEC anywhere. When it is missing, only the tests that need it
 * skip, and the reason is printed once so that a green run cannot hide skipped spec checks.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from './cli.js';

/** The parts of an OpenAPI 3.0 document the helpers read; everything else stays `unknown`. */
export interface SpecParameter {
  name: string;
  in: 'query' | 'header' | 'path' | 'cookie';
  required?: boolean;
  description?: string;
  schema?: Record<string, any>;
  explode?: boolean;
  style?: string;
  $ref?: string;
}

export interface SpecMediaType {
  schema?: Record<string, any>;
}

export interface SpecResponse {
  description?: string;
  content?: Record<string, SpecMediaType>;
  $ref?: string;
}

export interface SpecOperation {
  operationId: string;
  parameters?: SpecParameter[];
  requestBody?: { required?: boolean; content?: Record<string, SpecMediaType>; $ref?: string };
  responses: Record<string, SpecResponse>;
  'x-klaviyo-filters'?: Record<string, { operators?: { single?: string[]; list?: string[] } }>;
  [key: string]: unknown;
}

export type SpecPathItem = Partial<Record<'get' | 'post' | 'patch' | 'put' | 'delete', SpecOperation>> & {
  parameters?: SpecParameter[];
};

export interface Spec {
  openapi: string;
  info: { version: string; title?: string };
  paths: Record<string, SpecPathItem>;
  components: {
    schemas: Record<string, Record<string, any>>;
    responses?: Record<string, SpecResponse>;
    [key: string]: unknown;
  };
}

/** KLV_OPENAPI_SPEC, else ../shared/klaviyo-openapi/stable.json beside the repository. */
export function specPath(): string {
  return process.env.KLV_OPENAPI_SPEC || resolve(REPO_ROOT, '../shared/klaviyo-openapi/stable.json');
}

let cached: { spec: Spec | null; reason: string | null } | undefined;
let reasonPrinted = false;

function load(): { spec: Spec | null; reason: string | null } {
  if (cached) return cached;
  const path = specPath();
  if (!existsSync(path)) {
    cached = {
      spec: null,
      reason:
        `Klaviyo OpenAPI spec not found at ${path}; spec checks skipped. ` +
        'Set KLV_OPENAPI_SPEC to the spec (stable.json) or place it at ../shared/klaviyo-openapi/stable.json.',
    };
  } else {
    // A spec that exists but does not parse is a broken set-up, not a reason to skip: throw.
    const spec = JSON.parse(readFileSync(path, 'utf8')) as Spec;
    if (!spec.paths || !spec.components?.schemas) {
      throw new Error(`${path} is not an OpenAPI document (no paths or components.schemas). Check KLV_OPENAPI_SPEC.`);
    }
    cached = { spec, reason: null };
  }
  return cached;
}

/**
 * The parsed spec, or null when it is absent (then prints the reason once per test process).
 * Use as `const spec = loadSpec(); it.skipIf(!spec)(...)`.
 */
export function loadSpec(): Spec | null {
  const { spec, reason } = load();
  if (!spec && reason && !reasonPrinted) {
    reasonPrinted = true;
    console.warn(reason);
  }
  return spec;
}

/** Why the spec checks are skipped, or null when the spec is there. */
export function specAbsentReason(): string | null {
  return load().reason;
}
