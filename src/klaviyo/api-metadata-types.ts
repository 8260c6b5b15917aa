/** Types of the metadata generated from Klaviyo's OpenAPI spec (see scripts/gen-api.mjs). */

export type FilterOperator =
  | 'equals'
  | 'any'
  | 'contains'
  | 'contains-any'
  | 'contains-all'
  | 'starts-with'
  | 'ends-with'
  | 'greater-than'
  | 'less-than'
  | 'greater-or-equal'
  | 'less-or-equal'
  | 'has';

export interface FilterFieldMeta {
  operators: string[];
  type: string;
  format?: string;
  enum?: Array<string | number | boolean | null>;
}

export interface RateLimitMeta {
  /** Requests per 1-second window. */
  burst: number | null;
  /** Requests per 60-second window. */
  steady: number | null;
  /** Requests per day, where Klaviyo caps it. */
  daily: number | null;
}

export interface RateLimitTierMeta extends RateLimitMeta {
  /** Query parameter name, e.g. `additional-fields[profile]` or `include`. */
  parameter: string;
  /** The value in that (comma-separated) parameter that triggers the tier. */
  value: string;
}

export interface OperationMeta {
  operationId: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  pathParams: string[];
  requiredQuery: string[];
  rateLimit: RateLimitMeta;
  /**
   * Slower limits for requests that carry a given parameter value (e.g.
   * `additional-fields[list]=profile_count` costs 1/s, 15/m); counted in a bucket of their own.
   */
  rateLimitTiers: RateLimitTierMeta[];
  pageSize: { default: number | null; min: number; max: number | null } | null;
  /** Page size of endpoints that take no page[size] but document a fixed one (metrics: 200). */
  fixedPageSize: number | null;
  paginated: boolean;
  filters: Record<string, FilterFieldMeta>;
  sort: string[];
  include: string[];
  fields: Record<string, string[]>;
  additionalFields: Record<string, string[]>;
  scopes: string[];
  successStatus: number | null;
  responseType: string | null;
  responseIsCollection: boolean;
  /** The one resource of the answer may be null (to-one relationships); false for collections. */
  responseIsNullable: boolean;
  requestType: string | null;
  requestAttributes: string[];
  requiredRequestAttributes: string[];
}

export interface AttributeTypeMeta {
  type: string;
  format?: string;
  nullable?: boolean;
  enum?: Array<string | number | boolean | null>;
  properties?: Record<string, AttributeTypeMeta>;
  items?: AttributeTypeMeta;
}

export interface ResourceMeta {
  attributes: Record<string, AttributeTypeMeta>;
  relationships: string[];
}
