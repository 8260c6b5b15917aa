/**
 * `klv describe <object>`: what an object is, its key, operations and incremental column, then
 * every column with its type, whether it can be written, whether an insert needs it, and how
 * --where filters on it; then Klaviyo's constraints in plain words. A table on stdout, or JSON
 * with --json. No profile, no network.
 *
 * How a column filters is not declared separately: it is found by planning a read with one
 * synthetic condition per operator and looking at the plan. So what describe says is exactly
 * what `klv export` will do, including objects with their own planners (CouponCodes, Campaigns).
 */
import type { CommandContext } from '../context.js';
import { KlvError, UsageError } from '../../core/errors.js';
import { findObject } from '../../objects/registry.js';
import type { ColumnDef, Condition, ObjectDefinition, ReadPlan, ScalarValue, WhereOperator } from '../../objects/types.js';
import { formatTable, incrementalText, summarize } from './objects.js';
import { operatorsFor } from '../../objects/conditions/operators.js';

export interface FilterSupport {
  /** Operators Klaviyo answers exactly (a filter, or a by-id request). */
  pushedOperators: WhereOperator[];
  /** Operators sent as a slightly wider Klaviyo filter, with the exact bound checked by klv. */
  widenedOperators: WhereOperator[];
  /** Operators klv checks on each row, reading rows the API cannot leave out. */
  localOperators: WhereOperator[];
}

function sampleValues(column: ColumnDef): [ScalarValue, ScalarValue] {
  if (column.enum && column.enum.length > 0) return [column.enum[0], column.enum[1] ?? column.enum[0]];
  switch (column.type) {
    case 'boolean':
      return [true, false];
    case 'datetime':
      return ['2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z'];
    case 'integer':
      return [1, 2];
    case 'number':
      return [1.5, 2.5];
    case 'email':
      return ['ann@example.com', 'bob@example.com'];
    case 'phone':
      return ['+15005550006', '+15005550007'];
    default:
      return ['sample-a', 'sample-b'];
  }
}

function conditionFor(column: ColumnDef, op: WhereOperator): Condition {
  const [a, b] = sampleValues(column);
  if (op === 'in') return { column: column.name, op, value: [a, b] };
  if (op === 'contains' || op === 'starts-with' || op === 'ends-with') return { column: column.name, op, value: String(a) };
  return { column: column.name, op, value: a };
}

function sameCondition(a: Condition, b: Condition): boolean {
  return a.column === b.column && a.op === b.op && JSON.stringify(a.value) === JSON.stringify(b.value);
}

/**
 * The Klaviyo filters a plan sends. Only filters count: a condition can also add requests (one
 * per record for an on-demand column) without narrowing anything.
 */
function signature(plan: ReadPlan): string {
  return [...new Set(plan.requests.map((r) => r.query.filter).filter((f): f is string => Boolean(f)))].sort().join('\n');
}

function tryPlan(def: ObjectDefinition, columns: ColumnDef[], where: Condition[]): ReadPlan | undefined {
  try {
    return def.plan({ columns, where, options: {} });
  } catch (err) {
    // A read the object refuses (a required filter missing): that says nothing about this column.
    if (err instanceof KlvError) return undefined;
    throw err;
  }
}

/**
 * How --where on this column is answered. Objects that need some filter to be read at all
 * (ListSubscribe needs an Email) are planned with `=` conditions on the other columns too.
 */
export function filterSupport(def: ObjectDefinition, column: ColumnDef): FilterSupport {
  const out: FilterSupport = { pushedOperators: [], widenedOperators: [], localOperators: [] };
  const keyColumns = def.columns.filter((c) => def.key.includes(c.name));
  const output = keyColumns.length > 0 ? keyColumns : [def.columns[0]];
  const seeds = def.columns
    .filter((c) => c.name !== column.name && c.name !== 'Id' && c.type !== 'json' && !c.onDemand)
    .map((c) => conditionFor(c, '='));
  for (const op of operatorsFor(column)) {
    const cond = conditionFor(column, op);
    let extra: Condition[] = [];
    let plan = tryPlan(def, output, [cond]);
    if (!plan) {
      extra = seeds;
      plan = tryPlan(def, output, [cond, ...extra]);
    }
    const baseline = plan ? tryPlan(def, output, extra) : undefined;
    if (!plan) {
      out.localOperators.push(op);
      continue;
    }
    const local = plan.localConditions.some((c) => sameCondition(c, cond));
    if (!local) out.pushedOperators.push(op);
    else if (baseline && signature(baseline) !== signature(plan)) out.widenedOperators.push(op);
    else out.localOperators.push(op);
  }
  return out;
}

export function filterText(f: FilterSupport): string {
  const parts: string[] = [];
  if (f.pushedOperators.length > 0) parts.push(`pushed: ${f.pushedOperators.join(' ')}`);
  if (f.widenedOperators.length > 0) parts.push(`widened: ${f.widenedOperators.join(' ')}`);
  if (parts.length === 0) return 'local';
  if (f.localOperators.length > 0) parts.push('others local');
  return parts.join('; ');
}

export interface ColumnDescription {
  name: string;
  type: string;
  enum: string[] | null;
  readOnly: boolean;
  requiredOnInsert: boolean;
  aliases: string[];
  onDemand: boolean;
  filter: FilterSupport;
  description: string;
}

export function describeObject(def: ObjectDefinition) {
  const summary = summarize(def);
  const columns: ColumnDescription[] = def.columns.map((c) => ({
    name: c.name,
    type: c.type,
    enum: c.enum ? [...c.enum] : null,
    readOnly: Boolean(c.readOnly),
    requiredOnInsert: Boolean(c.requiredOnInsert),
    aliases: [...(c.aliases ?? [])],
    onDemand: Boolean(c.onDemand),
    filter: filterSupport(def, c),
    description: c.description,
  }));
  return {
    name: summary.name,
    aliases: summary.aliases,
    description: summary.description,
    key: summary.key,
    operations: summary.operations,
    incremental: summary.incremental,
    constraints: summary.constraints,
    columns,
  };
}

/** The description, followed by the allowed values unless it already names them all. */
function withEnum(c: ColumnDescription): string {
  if (!c.enum || c.enum.every((v) => c.description.includes(v))) return c.description;
  return `${c.description} (one of: ${c.enum.join(', ')})`;
}

export function formatDescription(def: ObjectDefinition): string {
  const d = describeObject(def);
  const incremental = !d.incremental
    ? 'no (--since does not apply)'
    : d.incremental.serverSide
      ? `${d.incremental.column} (--since is filtered by Klaviyo)`
      : `${incrementalText(def)}: Klaviyo cannot filter it, so --since reads every row and klv keeps the newer ones`;
  const lines: string[] = [
    `${d.name}: ${d.description}`,
    '',
    ...(d.aliases.length > 0 ? [`  Also named:   ${d.aliases.join(', ')}`] : []),
    `  Key:          ${d.key.join(', ')}`,
    `  Operations:   ${d.operations.join(', ')}`,
    `  Incremental:  ${incremental}`,
    '',
  ];
  const rows = d.columns.map((c) => [
    c.name,
    c.type,
    c.readOnly ? 'read-only' : 'writable',
    c.requiredOnInsert ? 'yes' : '',
    c.onDemand ? 'on demand' : 'default',
    filterText(c.filter),
    withEnum(c),
  ]);
  lines.push(formatTable(['Column', 'Type', 'Access', 'Required on insert', 'Exported', 'Filter', 'Description'], rows));
  lines.push(
    '',
    'Exported: "on demand" columns cost extra requests or a slower rate limit, so they are read only when named in --columns.',
    'Filter: pushed = Klaviyo filters it; widened = Klaviyo filters a slightly wider range and klv checks the exact bound;',
    '        local = klv reads the rows and checks each one (every operator works locally).',
  );
  if (d.constraints.length > 0) {
    lines.push('', 'Constraints:');
    for (const c of d.constraints) lines.push(`  - ${c}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function run(ctx: CommandContext, args: string[]): Promise<number> {
  const name = args[0];
  if (!name) throw new UsageError('Which object?', "Run 'klv objects' for the list, then 'klv describe <object>'.");
  const def = findObject(name);
  if (ctx.io.json) ctx.io.data(JSON.stringify(describeObject(def), null, 2));
  else ctx.io.data(formatDescription(def));
  return 0;
}
