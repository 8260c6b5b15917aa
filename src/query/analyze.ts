/**
 * What a SELECT needs from Klaviyo, found on node-sql-parser's tree before anything is sent:
 *
 * - every object it names (FROM, JOIN, subqueries), resolved through the catalog (an unknown
 *   name is a usage error with the nearest names), and renamed to the canonical name so that the
 *   SQL SQLite runs finds the tables klv loads;
 * - every column it references anywhere (SELECT, WHERE, JOIN ON, GROUP BY, HAVING, ORDER BY,
 *   subqueries), resolved the same way, renamed to the canonical name: only these are read
 *   (sparse fieldsets);
 * - the top-level WHERE conjuncts of the form `col op literal`, `col IN (...)`, `col LIKE 'x%'`
 *   and `col BETWEEN a AND b` on one object, as catalog Conditions for the object's planner,
 *   which pushes what the endpoint can filter and checks the rest on each row. SQLite evaluates
 *   the whole WHERE again on what is loaded, so correctness never depends on push-down: a
 *   condition is pushed only when it can only remove rows SQL would remove too. String literals
 *   compared with a datetime column are rewritten to the form SQLite stores datetimes in
 *   (datetimes.ts), so that SQLite compares instants, as push-down does.
 *
 * The result says too whether the query is a simple scan (one object, no grouping, ordering,
 * DISTINCT, aggregates or subqueries, plain columns, every condition pushed) that can stream
 * straight from the API to the output without SQLite.
 */
import { UsageError } from '../core/errors.js';
import { findColumn } from '../objects/columns.js';
import { nearestNames } from '../objects/names.js';
import { findObject } from '../objects/registry.js';
import { normalizeDateTime } from '../objects/where.js';
import type { ColumnDef, Condition, ObjectDefinition, ScalarValue, WhereOperator } from '../objects/types.js';
import { rewriteDatetimeLiterals } from './datetimes.js';
import { exprSql, type AstNode } from './parse.js';
import { hasPropertiesColumn, isPropertyColumnName, noPropertiesError } from './properties.js';

export interface TableUse {
  def: ObjectDefinition;
  /** Referenced columns by canonical name, in first-reference order. */
  columns: Map<string, ColumnDef>;
  /** How many times the object appears in the query (self-joins, subqueries). */
  occurrences: number;
  /** Conditions for the planner (only when the object appears once). */
  where: Condition[];
}

export interface OutputColumn {
  /** The name in the output (the alias, else the column name). */
  name: string;
  column: ColumnDef;
}

export interface Analysis {
  /** The statement with canonical object and column names (run by SQLite). */
  ast: AstNode;
  tables: Map<string, TableUse>;
  /** Top-level WHERE conjuncts that could not become conditions (SQLite checks them). */
  residual: number;
  /** Those conjuncts as SQL (and why, for custom properties), for --explain. */
  residualSql: string[];
  /** Streams from the API without SQLite: set when the query is a simple scan. */
  simple?: { table: string; output: OutputColumn[]; limit?: number; offset: number };
  /** LIMIT for the planner (stops paging early) when nothing between the API and LIMIT can drop or reorder rows. */
  pushLimit?: number;
  /** What SQLite does beyond loading the tables, for --explain. */
  localWork: string[];
}

interface ScopeEntry {
  /** Names the query can qualify columns with (alias, or the table name as written). */
  names: string[];
  use?: TableUse;
  /** A subquery in FROM: its columns are whatever it selects. */
  derived?: boolean;
}

interface Scope {
  entries: ScopeEntry[];
  outputAliases: Set<string>;
}

const lower = (s: string) => s.toLowerCase();

function columnName(ref: AstNode): string | undefined {
  const c = ref.column;
  if (typeof c === 'string') return c;
  if (c && typeof c === 'object' && c.expr && typeof c.expr.value === 'string') return c.expr.value;
  return undefined;
}

function setColumnName(ref: AstNode, name: string): void {
  if (typeof ref.column === 'string') ref.column = name;
  else if (ref.column?.expr) ref.column.expr.value = name;
}

function unsupported(what: string, hint = 'Rewrite the query without it, or export the objects and query the files.'): UsageError {
  return new UsageError(`klv query does not support ${what}.`, hint);
}

export class Analyzer {
  readonly tables = new Map<string, TableUse>();
  /** column_ref nodes resolved to a datetime column (their literals are rewritten: datetimes.ts). */
  readonly datetimeRefs = new WeakSet<object>();
  selects = 0;
  aggregates = false;

  use(def: ObjectDefinition): TableUse {
    let u = this.tables.get(def.name);
    if (!u) {
      u = { def, columns: new Map(), occurrences: 0, where: [] };
      this.tables.set(def.name, u);
    }
    return u;
  }

  select(sel: AstNode, outer: Scope[]): Scope {
    this.selects += 1;
    if (sel.with) throw unsupported('WITH (common table expressions)', 'Use a subquery in FROM instead: SELECT ... FROM (SELECT ...) AS t.');
    if (sel._next || sel.set_op) throw unsupported(`${String(sel.set_op ?? 'UNION').toUpperCase()} (compound SELECT)`);
    if (sel.into?.expr || sel.into?.type) throw unsupported('SELECT ... INTO');
    const scope: Scope = { entries: [], outputAliases: new Set() };
    for (const f of (sel.from ?? []) as AstNode[]) {
      if (typeof f.table === 'string' && !f.expr) {
        let def: ObjectDefinition;
        try {
          def = findObject(f.table);
        } catch (err) {
          if (err instanceof UsageError) throw new UsageError(`Unknown object '${f.table}' in the query.`, err.hint);
          throw err;
        }
        const written: string = f.table;
        f.table = def.name;
        if (f.db) throw unsupported(`the schema-qualified name ${f.db}.${written}`, `Name the object alone: ${def.name}.`);
        // Columns qualified with the name as written (list_members.Email) must still resolve in SQLite.
        if (!f.as && written !== def.name) f.as = written;
        const use = this.use(def);
        use.occurrences += 1;
        scope.entries.push({ names: [f.as ?? def.name, def.name, written].map(lower), use });
      } else if (f.expr?.ast) {
        this.select(f.expr.ast, outer);
        scope.entries.push({ names: f.as ? [lower(f.as)] : [], derived: true });
      } else if (f.expr) {
        throw unsupported('a table function or VALUES in FROM');
      }
    }
    for (const c of (sel.columns ?? []) as AstNode[]) if (c && typeof c.as === 'string') scope.outputAliases.add(lower(c.as));
    const chain = [scope, ...outer];
    for (const f of (sel.from ?? []) as AstNode[]) {
      if (f.on) this.expr(f.on, chain);
      if (Array.isArray(f.using)) {
        for (const u of f.using as AstNode[]) {
          const name = typeof u === 'string' ? u : u?.value ?? u?.column;
          if (typeof name === 'string') for (const e of scope.entries) if (e.use) this.addColumn(e.use, name, false);
        }
      }
    }
    this.expr(sel.columns, chain);
    this.expr(sel.where, chain);
    this.expr(sel.groupby?.columns ?? sel.groupby, chain);
    this.expr(sel.having, chain);
    this.expr(sel.orderby, chain);
    return scope;
  }

  expr(node: AstNode, chain: Scope[]): void {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const n of node) this.expr(n, chain);
      return;
    }
    if (node.type === 'column_ref') {
      this.columnRef(node, chain);
      return;
    }
    if (node.type === 'double_quote_string' && typeof node.value === 'string' && this.namesColumn(node.value, chain)) {
      // Standard SQL (and SQLite, when the name is a column): "Properties.tier" is an identifier.
      const name: string = node.value;
      for (const k of Object.keys(node)) delete node[k];
      Object.assign(node, { type: 'column_ref', table: null, column: name });
      this.columnRef(node, chain);
      return;
    }
    if (node.ast && typeof node.ast === 'object' && node.ast.type === 'select') {
      this.select(node.ast, chain);
      return;
    }
    if (node.type === 'select') {
      this.select(node, chain);
      return;
    }
    if (node.type === 'aggr_func') this.aggregates = true;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'tableList' || k === 'columnList') continue;
      this.expr(v, chain);
    }
  }

  /**
   * Whether a double-quoted text is a column name, by SQLite's rule (an identifier when it names
   * a column in scope, else a string: `City = "Oslo"` stays a comparison with 'Oslo'). The
   * tables SQLite sees carry canonical names, matched without regard to case as SQLite does.
   * `"Properties.x"` always means the column: on an object without custom properties that is
   * the usage error saying so, not a silent string.
   */
  namesColumn(text: string, chain: Scope[]): boolean {
    const objects = chain.flatMap((s) => s.entries.filter((e) => e.use).map((e) => e.use!.def));
    if (isPropertyColumnName(text)) return objects.length > 0;
    const wanted = lower(text);
    return objects.some((def) => def.columns.some((c) => lower(c.name) === wanted));
  }

  addColumn(use: TableUse, name: string, required = true): ColumnDef | undefined {
    const col = findColumn(use.def, name);
    if (!col && isPropertyColumnName(name) && !hasPropertiesColumn(use.def)) {
      if (!required) return undefined;
      throw noPropertiesError(use.def, name);
    }
    if (!col) {
      if (!required) return undefined;
      const near = nearestNames(name, use.def.columns.map((c) => c.name));
      throw new UsageError(
        `${use.def.name} has no column '${name}'.`,
        `${near.length > 0 ? `Did you mean ${near.map((n) => `'${n}'`).join(' or ')}? ` : ''}'klv describe ${use.def.name}' lists the columns.`,
      );
    }
    if (!use.columns.has(col.name)) {
      // SQLite's column names ignore case; Klaviyo's property names do not.
      const clash = [...use.columns.keys()].find((k) => lower(k) === lower(col.name));
      if (clash) {
        throw new UsageError(
          `${use.def.name}: '${clash}' and '${col.name}' differ only in case; klv query cannot read both (SQLite's column names ignore case).`,
          `Query one of them, or export both: klv export ${use.def.name} --properties ${[clash, col.name].map((n) => n.replace(/^Properties\./, '')).join(',')}.`,
        );
      }
      use.columns.set(col.name, col);
    }
    return col;
  }

  allColumns(use: TableUse): void {
    for (const c of use.def.columns) if (!c.onDemand && !use.columns.has(c.name)) use.columns.set(c.name, c);
  }

  columnRef(ref: AstNode, chain: Scope[]): void {
    let name = columnName(ref);
    if (name === undefined) return;
    let qualifier: string | null = typeof ref.table === 'string' ? ref.table : null;
    // `Properties.tier` the parse step left as table.column (it does when the statement also uses
    // the word as a name): with no object or alias called Properties, it is the property column.
    if (qualifier !== null && lower(qualifier) === 'properties' && name !== '*' && !chain.some((s) => s.entries.some((e) => e.names.includes('properties')))) {
      name = `Properties.${name}`;
      qualifier = null;
      ref.table = null;
      setColumnName(ref, name);
    }
    if (qualifier !== null) {
      for (const scope of chain) {
        const entry = scope.entries.find((e) => e.names.includes(lower(qualifier)));
        if (!entry) continue;
        if (!entry.use) return; // a column of a subquery in FROM: SQLite resolves it
        if (name === '*') return this.allColumns(entry.use);
        const col = this.addColumn(entry.use, name)!;
        setColumnName(ref, col.name);
        if (col.type === 'datetime') this.datetimeRefs.add(ref);
        return;
      }
      const known = chain.flatMap((s) => s.entries.flatMap((e) => e.names));
      const near = nearestNames(qualifier, known);
      throw new UsageError(
        `'${qualifier}.${name}': no object or alias named '${qualifier}' in this part of the query.`,
        near.length > 0 ? `Did you mean ${near.map((n) => `'${n}'`).join(' or ')}?` : 'Qualify columns with an object named in FROM or its alias.',
      );
    }
    if (name === '*') {
      for (const e of chain[0].entries) if (e.use) this.allColumns(e.use);
      return;
    }
    for (const scope of chain) {
      const hits = scope.entries.filter((e) => e.use && findColumn(e.use.def, name));
      if (hits.length > 0) {
        // Ambiguous names are SQLite's to report; every candidate is loaded so its message is the real one.
        let canonical: ColumnDef | undefined;
        for (const h of hits) canonical = this.addColumn(h.use!, name)!;
        if (hits.length === 1) {
          setColumnName(ref, canonical!.name);
          if (canonical!.type === 'datetime') this.datetimeRefs.add(ref);
        }
        return;
      }
      // An output alias (ORDER BY n) or a subquery's column: not an object column.
      if (scope.outputAliases.has(lower(name)) || scope.entries.some((e) => e.derived)) return;
    }
    if (isPropertyColumnName(name)) {
      const first = chain[0].entries.find((e) => e.use);
      if (first) throw noPropertiesError(first.use!.def, name);
    }
    const candidates = chain[0].entries.flatMap((e) => (e.use ? e.use.def.columns.map((c) => c.name) : []));
    const objects = chain[0].entries.filter((e) => e.use).map((e) => e.use!.def.name);
    const near = nearestNames(name, candidates);
    throw new UsageError(
      `Unknown column '${name}'${objects.length > 0 ? ` (${objects.join(', ')} ${objects.length === 1 ? 'has' : 'have'} no such column)` : ''}.`,
      `${near.length > 0 ? `Did you mean ${near.map((n) => `'${n}'`).join(' or ')}? ` : ''}${objects.length > 0 ? `'klv describe ${objects[0]}' lists the columns.` : ''}`,
    );
  }
}

/** The AND-ed parts of a WHERE: `a AND (b AND c)` -> [a, b, c]; parenthesized ORs stay whole. */
export function conjuncts(where: AstNode): AstNode[] {
  if (!where) return [];
  if (where.type === 'binary_expr' && String(where.operator).toUpperCase() === 'AND') return [...conjuncts(where.left), ...conjuncts(where.right)];
  return [where];
}

/** A literal's value, or undefined when the node is not a plain literal. */
export function literal(node: AstNode): ScalarValue | undefined {
  if (!node || typeof node !== 'object') return undefined;
  switch (node.type) {
    case 'number':
      return typeof node.value === 'number' ? node.value : Number(node.value);
    case 'single_quote_string':
    case 'string':
      return String(node.value);
    case 'bool':
      return Boolean(node.value);
    case 'null':
      return null;
    default:
      return undefined;
  }
}

/** `'abc%'` -> starts-with abc, `'%abc%'` -> contains, `'%abc'` -> ends-with, `'abc'` -> =; other patterns stay local. */
export function likeCondition(pattern: string): { op: WhereOperator; value: string } | undefined {
  const inner = pattern.replace(/^%/, '').replace(/%$/, '');
  if (inner === '' || /[%_\\]/.test(inner)) return undefined;
  const lead = pattern.startsWith('%');
  const trail = pattern.length > 1 && pattern.endsWith('%');
  if (lead && trail) return { op: 'contains', value: inner };
  if (trail) return { op: 'starts-with', value: inner };
  if (lead) return { op: 'ends-with', value: inner };
  return { op: '=', value: inner };
}

const FLIP: Record<string, WhereOperator> = { '=': '=', '!=': '!=', '<>': '!=', '>': '<', '>=': '<=', '<': '>', '<=': '>=' };
const SAME: Record<string, WhereOperator> = { '=': '=', '==': '=', '!=': '!=', '<>': '!=', '>': '>', '>=': '>=', '<': '<', '<=': '<=' };

/** The literal in the column's type, or undefined when pushing it could disagree with SQL. */
function typed(value: ScalarValue, col: ColumnDef): ScalarValue | undefined {
  if (value === null) return undefined;
  switch (col.type) {
    case 'integer':
    case 'number':
      return typeof value === 'number' ? value : undefined;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 1 || value === 0) return value === 1;
      return undefined;
    case 'datetime':
      return typeof value === 'string' ? normalizeDateTime(value) ?? undefined : undefined;
    case 'json':
      return undefined;
    default:
      if (typeof value !== 'string') return undefined;
      // A value outside the enum matches nothing in SQL; sent to Klaviyo it would be refused.
      if (col.enum && !col.enum.includes(value)) return undefined;
      return value;
  }
}

/** One WHERE conjunct as conditions on one object, or undefined when it is not of a pushable form. */
export function conjunctConditions(node: AstNode, resolve: (ref: AstNode) => { table: string; column: ColumnDef } | undefined): { table: string; conditions: Condition[] } | undefined {
  if (!node || node.type !== 'binary_expr') return undefined;
  const op = String(node.operator).toUpperCase();
  const colRef = (n: AstNode) => (n?.type === 'column_ref' ? resolve(n) : undefined);
  if (op in SAME || op === '==') {
    let target = colRef(node.left);
    let value = literal(node.right);
    let mapped = SAME[op];
    if (!target || value === undefined) {
      target = colRef(node.right);
      value = literal(node.left);
      mapped = FLIP[op === '==' ? '=' : op];
    }
    if (!target || value === undefined) return undefined;
    const v = typed(value, target.column);
    if (v === undefined) return undefined;
    return { table: target.table, conditions: [{ column: target.column.name, op: mapped, value: v }] };
  }
  if (op === 'IN') {
    const target = colRef(node.left);
    const items: AstNode[] | undefined = node.right?.type === 'expr_list' && Array.isArray(node.right.value) ? node.right.value : undefined;
    if (!target || !items || items.length === 0) return undefined;
    const values: ScalarValue[] = [];
    for (const item of items) {
      const raw = literal(item);
      if (raw === undefined || raw === null) return undefined;
      const v = typed(raw, target.column);
      if (v === undefined) return undefined;
      values.push(v);
    }
    return { table: target.table, conditions: [{ column: target.column.name, op: 'in', value: values }] };
  }
  if (op === 'LIKE') {
    const target = colRef(node.left);
    const pattern = literal(node.right);
    if (!target || typeof pattern !== 'string' || node.escape) return undefined;
    if (!['string', 'email', 'phone', 'id'].includes(target.column.type) || target.column.enum) return undefined;
    const like = likeCondition(pattern);
    if (!like) return undefined;
    return { table: target.table, conditions: [{ column: target.column.name, op: like.op, value: like.value }] };
  }
  if (op === 'BETWEEN') {
    const target = colRef(node.left);
    const bounds: AstNode[] | undefined = node.right?.type === 'expr_list' ? node.right.value : undefined;
    if (!target || !bounds || bounds.length !== 2) return undefined;
    const lo = literal(bounds[0]);
    const hi = literal(bounds[1]);
    if (lo === undefined || hi === undefined) return undefined;
    const a = typed(lo, target.column);
    const b = typed(hi, target.column);
    if (a === undefined || b === undefined) return undefined;
    return {
      table: target.table,
      conditions: [
        { column: target.column.name, op: '>=', value: a },
        { column: target.column.name, op: '<=', value: b },
      ],
    };
  }
  return undefined;
}

/** A WHERE conjunct as SQL, saying why a custom property condition cannot go to Klaviyo. */
function conditionText(node: AstNode): string {
  let text: string;
  try {
    text = exprSql(node);
  } catch {
    text = 'a condition';
  }
  let onProperty = false;
  const visit = (n: AstNode): void => {
    if (!n || typeof n !== 'object' || onProperty) return;
    if (n.type === 'column_ref' && isPropertyColumnName(columnName(n) ?? '')) onProperty = true;
    else for (const v of Object.values(n)) visit(v);
  };
  visit(node);
  return onProperty ? `${text}   (a custom property: no Klaviyo endpoint filters on custom properties)` : text;
}

function limitOf(sel: AstNode): { limit?: number; offset: number } {
  const values: AstNode[] = sel.limit?.value ?? [];
  if (values.length === 0) return { offset: 0 };
  const nums = values.map((v) => literal(v));
  if (nums.some((n) => typeof n !== 'number' || !Number.isInteger(n) || n < 0)) return { offset: 0, limit: undefined };
  // `LIMIT a, b` (MySQL order: offset first) vs `LIMIT a OFFSET b`.
  if (values.length === 2) {
    return sel.limit.seperator === 'offset' ? { limit: nums[0] as number, offset: nums[1] as number } : { limit: nums[1] as number, offset: nums[0] as number };
  }
  return { limit: nums[0] as number, offset: 0 };
}

export function analyzeSelect(ast: AstNode): Analysis {
  if (!ast || ast.type !== 'select') throw unsupported(`the statement ${String(ast?.type ?? '').toUpperCase()}`);
  const a = new Analyzer();
  const top = a.select(ast, []);
  if (a.tables.size === 0) throw unsupported('a SELECT without an object in FROM', "Name an object: SELECT * FROM Lists. 'klv objects' lists them.");

  // Conditions for the planner: top-level WHERE conjuncts on an object that appears once.
  const byQualifier = new Map<string, TableUse>();
  for (const e of top.entries) if (e.use) for (const n of e.names) byQualifier.set(n, e.use);
  const resolve = (ref: AstNode): { table: string; column: ColumnDef } | undefined => {
    const name = columnName(ref);
    if (!name || name === '*') return undefined;
    let use: TableUse | undefined;
    if (typeof ref.table === 'string') use = byQualifier.get(lower(ref.table));
    else {
      const hits = top.entries.filter((e) => e.use && findColumn(e.use.def, name));
      if (hits.length !== 1 || top.entries.some((e) => e.derived)) return undefined;
      use = hits[0].use;
    }
    if (!use || use.occurrences !== 1) return undefined;
    const column = findColumn(use.def, name);
    return column ? { table: use.def.name, column } : undefined;
  };
  let residual = 0;
  const residualSql: string[] = [];
  for (const c of conjuncts(ast.where)) {
    const found = conjunctConditions(c, resolve);
    if (found) a.tables.get(found.table)!.where.push(...found.conditions);
    else {
      residual += 1;
      residualSql.push(conditionText(c));
    }
  }

  const { limit, offset } = limitOf(ast);
  const single = top.entries.length === 1 && top.entries[0].use !== undefined && a.tables.size === 1;
  const reorders = Boolean(ast.groupby) || Boolean(ast.having) || Boolean(ast.orderby?.length) || Boolean(ast.distinct) || a.aggregates;
  const filtersAll = residual === 0;
  const pushLimit = single && a.selects === 1 && !reorders && filtersAll && limit !== undefined ? limit + offset : undefined;

  const localWork: string[] = [];
  if (top.entries.length > 1) localWork.push('join');
  if (a.selects > 1) localWork.push('subqueries');
  if (residual > 0) localWork.push(`${residual} WHERE condition${residual === 1 ? '' : 's'} no endpoint can filter`);
  if (a.aggregates || ast.groupby) localWork.push('group by / aggregates');
  if (ast.having) localWork.push('having');
  if (ast.distinct) localWork.push('distinct');
  if (ast.orderby?.length) localWork.push('order by');
  if (limit !== undefined && pushLimit === undefined) localWork.push('limit');

  let simple: Analysis['simple'];
  if (single && a.selects === 1 && !reorders && filtersAll) {
    const use = top.entries[0].use!;
    const output: OutputColumn[] = [];
    let plain = true;
    for (const c of ast.columns as AstNode[]) {
      const e = c?.expr;
      if (e?.type !== 'column_ref') {
        plain = false;
        break;
      }
      const name = columnName(e);
      if (name === '*') {
        for (const col of use.def.columns) if (!col.onDemand) output.push({ name: col.name, column: col });
      } else {
        const col = name ? findColumn(use.def, name) : undefined;
        if (!col) {
          plain = false;
          break;
        }
        output.push({ name: typeof c.as === 'string' ? c.as : col.name, column: col });
      }
    }
    if (plain) simple = { table: use.def.name, output, limit, offset };
  }
  // Last, so that the conditions and --explain show the literals as written.
  rewriteDatetimeLiterals(ast, (ref) => ref !== null && typeof ref === 'object' && a.datetimeRefs.has(ref));
  return { ast, tables: a.tables, residual, residualSql, simple, pushLimit, localWork };
}
