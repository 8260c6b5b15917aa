/**
 * The object catalog's vocabulary. An object (Profiles, Campaigns, ListMembers ...) is what a
 * user names on the command line; it declares its columns, its key, how it is read from today's
 * Klaviyo endpoints, which operations it supports and whether it reads incrementally.
 *
 * Reading is planned before anything is sent: `plan()` turns the selected columns and the
 * `--where` conditions into the API requests (with Klaviyo `filter` strings pushed down where the
 * endpoint allows) plus the conditions that must be checked locally. `--explain` prints the
 * plan; `klv export` executes it.
 */
import type { KlaviyoClient } from '../klaviyo/client.js';
import type { OperationId } from '../klaviyo/generated/api-metadata.js';
import type { JsonApiResource } from '../klaviyo/json-api.js';
import type { WriteHandlers } from './write/types.js';

export type ColumnType = 'id' | 'string' | 'integer' | 'number' | 'boolean' | 'datetime' | 'json' | 'email' | 'phone';

export type Operation = 'insert' | 'update' | 'upsert' | 'delete';

/** Comparison operators of `--where` (and later of SQL WHERE). */
export type WhereOperator = '=' | '!=' | '>' | '>=' | '<' | '<=' | 'in' | 'contains' | 'starts-with' | 'ends-with';

export type ScalarValue = string | number | boolean | null;

export interface Condition {
  /** Canonical column name (PascalCase), resolved through the object's columns and aliases. */
  column: string;
  op: WhereOperator;
  /** A list for `in`, a scalar otherwise. */
  value: ScalarValue | ScalarValue[];
}

/** A row as klv handles it: canonical column name -> value (null for absent). */
export type Row = Record<string, unknown>;

export interface ColumnDef {
  /** PascalCase, unique within the object. */
  name: string;
  type: ColumnType;
  description: string;
  /** Allowed values, when Klaviyo restricts them. */
  enum?: readonly string[];
  /** Klaviyo sets it; it cannot be written. */
  readOnly?: boolean;
  requiredOnInsert?: boolean;
  /**
   * Where the value lives in the Klaviyo resource, as `id`, or an attribute path relative to
   * `attributes` (`location.city`). Computed columns give `get` instead.
   */
  path?: string;
  /**
   * A computed column: the value from the whole resource (with `includedRelationships` joined),
   * e.g. Events.MetricName from the included metric. Give `sparseField` the attribute(s) it
   * reads, or leave it undefined to disable sparse fieldsets for the resource.
   */
  get?: (resource: JsonApiResource) => unknown;
  /** Requested with `additional-fields[type]=<this>` (profile `subscriptions`, list `profile_count`). */
  additionalField?: string;
  /** Klaviyo's own names accepted for this column in CSV headers and --where (`first_name`, `city`). */
  aliases?: readonly string[];
  /**
   * Only read when the user selects it, because it costs a slower rate-limit tier or an extra
   * request (Lists.ProfileCount, Profiles.Subscriptions).
   */
  onDemand?: boolean;
  /** Push-down: the endpoint's filter field for this column (the operators come from the spec). */
  filterField?: string;
  /**
   * The sparse-fieldset entries this column needs (`location.city`); default: `path`. null: it
   * needs no attribute (Id, relationship ids).
   */
  sparseField?: string | readonly string[] | null;
}

export interface ReadOptions {
  /** Campaigns and Flows: archived ones too. */
  includeArchived?: boolean;
  /** Custom properties to expand into `Properties.<name>` columns. */
  properties?: string[];
  /** Upper bound of cursors read at once (partitioned reads); default chosen by the object. */
  parallelism?: number;
}

export interface ReadRequest {
  /** The columns to produce, in output order (already resolved and validated). */
  columns: ColumnDef[];
  /** AND-ed conditions. */
  where: Condition[];
  /** Incremental read: rows whose incremental column is at or after this instant. */
  since?: Date;
  /** Stop after this many rows. */
  limit?: number;
  options: ReadOptions;
}

/** One API request (or a family of paged requests) a plan will make; for --explain. */
export interface PlannedRequest {
  operationId: string;
  method: string;
  /** Path with the ids filled in where known (`/api/lists/{id}/profiles` when one per list). */
  path: string;
  /** Query parameters as sent: filter, sort, fields[...], include, additional-fields[...], page[size]. */
  query: Record<string, string>;
  /** Why this request, in plain words (`one per list`, `email channel`). */
  purpose: string;
  /** Rows per page (the largest page size the endpoint allows). */
  pageSize: number | null;
  /** How many times this request family repeats when known (one per list: 4). */
  repeat?: number | null;
}

/**
 * What a read says about itself besides its rows: the parts it left out.
 *
 * A read leaves a part out only when its caller passes a report, and then always tells it: a
 * deletion sweep can do without the members of a list deleted after the lists were read (it
 * marks nothing that run), but an export or a replica's incremental read cannot, so without a
 * report the reader throws instead. Plans built on other plans pass the report on.
 */
export interface ReadReport {
  /** `part`: what was left out (`the members of list Y6nRLr`); `reason`: why, in plain words. */
  skipped(part: string, reason: string): void;
}

export interface ReadPlan {
  requests: PlannedRequest[];
  /** Conditions checked locally, on each row, because no endpoint filter can express them. */
  localConditions: Condition[];
  /** Anything the user should know about the plan (costs, partitions, client-side incremental). */
  notes: string[];
  /**
   * Operations the execution may also call, depending on the answers (a campaign's messages when
   * Klaviyo left them out of the include). With `requests`, what `klv doctor` derives the scopes
   * of a read from.
   */
  followUps?: readonly OperationId[];
  /**
   * Runs the plan. Rows stream out as pages arrive; memory stays flat. With `report`, the read
   * may leave out a part that vanished while it ran and says so there (ReadReport); without it,
   * that throws.
   */
  execute(client: KlaviyoClient, signal?: AbortSignal, report?: ReadReport): AsyncIterable<Row>;
}

export interface ObjectDefinition {
  /** Canonical plural PascalCase name (`Profiles`, `EmailTemplates`, `ListMembers`). */
  name: string;
  /** Other accepted names beyond the automatic singular/plural/case/hyphen forms. */
  aliases?: readonly string[];
  description: string;
  /** Key column(s): what identifies a row. */
  key: readonly string[];
  columns: readonly ColumnDef[];
  /** The import operations it supports (the keys of `write`). */
  operations: readonly Operation[];
  /** Import handlers by operation (src/objects/write/types.ts). */
  write?: WriteHandlers;
  /** The column incremental reads (--since) use, and whether the API filters it or klv does. */
  incremental?: { column: string; serverSide: boolean };
  /** Klaviyo's constraints in plain words (`klv describe`). */
  constraints: readonly string[];
  /** Plans a read. Throws UsageError (exit 2) for a read the object cannot do (a required filter missing). */
  plan(request: ReadRequest): ReadPlan;
}
