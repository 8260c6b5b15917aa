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
 *   and `col BETWEEN a AND b` on one object, as catalog Conditions for the object's planner
 *   (conditions.ts: the ones --where gives for the same text), which pushes what the endpoint
 *   can filter and checks the rest on each row. SQLite evaluates
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
import type { ColumnDef, Condition, ObjectDefinition } from '../objects/types.js';
import { conjunctConditions, conjuncts, sqlLiteral } from './conditions.js';
import { rewriteDatetimeLiterals } from './datetimes.js';
import { exprSql } from './parse.js';
import { hasPropertiesColumn, isPropertyColumnName, noPropertiesError } from './properties.js';
import { columnRefName, isColumnRef, isNode, isSelect, setColumnRefName, subquery, type AST, type ColumnRefItem, type Select, type SqlNode } from './sql-ast.js';

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
  ast: Select;
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

/** A SELECT's FROM entries (tables, joins, subqueries), as nodes to read and rename. */
function fromEntries(sel: Select): SqlNode[] {
  const from: unknown = sel.from;
  return (Array.isArray(from) ? from : from ? [from] : []).filter(isNode);
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

  select(sel: Select, outer: Scope[]): Scope {
    this.selects += 1;
    // Keys the library's Select type does not name (INTO) are read through SqlNode.
    const node: SqlNode = sel as unknown as SqlNode;
    if (sel.with) throw unsupported('WITH (common table expressions)', 'Use a subquery in FROM instead: SELECT ... FROM (SELECT ...) AS t.');
    if (sel._next || sel.set_op) throw unsupported(`${String(sel.set_op ?? 'UNION').toUpperCase()} (compound SELECT)`);
    if (isNode(node.into) && (node.into.expr || node.into.type)) throw unsupported('SELECT ... INTO');
    const scope: Scope = { entries: [], outputAliases: new Set() };
    const from = fromEntries(sel);
    for (const f of from) {
      const inner = isNode(f.expr) ? subquery(f.expr) : undefined;
      const alias = typeof f.as === 'string' ? f.as : undefined;
      if (typeof f.table === 'string' && !f.expr) {
        let def: ObjectDefinition;
        try {
          def = findObject(f.table);
        } catch (err) {
          if (err instanceof UsageError) throw new UsageError(`Unknown object '${f.table}' in the query.`, err.hint);
          throw err;
        }
        const written = f.table;
        f.table = def.name;
        if (f.db) throw unsupported(`the schema-qualified name ${String(f.db)}.${written}`, `Name the object alone: ${def.name}.`);
        // Columns qualified with the name as written (list_members.Email) must still resolve in SQLite.
        if (!alias && written !== def.name) f.as = written;
        const use = this.use(def);
        use.occurrences += 1;
        scope.entries.push({ names: [alias ?? written, def.name, written].map(lower), use });
      } else if (inner) {
        this.select(inner, outer);
        scope.entries.push({ names: alias ? [lower(alias)] : [], derived: true });
      } else if (f.expr) {
        throw unsupported('a table function or VALUES in FROM');
      }
    }
    for (const c of sel.columns ?? []) if (isNode(c) && typeof c.as === 'string') scope.outputAliases.add(lower(c.as));
    const chain = [scope, ...outer];
    for (const f of from) {
      if (f.on) this.expr(f.on, chain);
      if (Array.isArray(f.using)) {
        for (const u of f.using as unknown[]) {
          const name = typeof u === 'string' ? u : isNode(u) ? (u.value ?? u.column) : undefined;
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

  expr(node: unknown, chain: Scope[]): void {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const n of node) this.expr(n, chain);
      return;
    }
    if (!isNode(node)) return;
    if (isColumnRef(node)) {
      this.columnRef(node, chain);
      return;
    }
    if (node.type === 'double_quote_string' && typeof node.value === 'string' && this.namesColumn(node.value, chain)) {
      // Standard SQL (and SQLite, when the name is a column): "Properties.tier" is an identifier.
      const name = node.value;
      for (const k of Object.keys(node)) delete node[k];
      const ref: ColumnRefItem = { type: 'column_ref', table: null, column: name };
      Object.assign(node, ref);
      this.columnRef(node as unknown as ColumnRefItem, chain);
      return;
    }
    const inner = subquery(node);
    if (inner) {
      this.select(inner, chain);
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

  columnRef(ref: ColumnRefItem, chain: Scope[]): void {
    let name = columnRefName(ref);
    if (name === undefined) return;
    let qualifier: string | null = typeof ref.table === 'string' ? ref.table : null;
    // `Properties.tier` the parse step left as table.column (it does when the statement also uses
    // the word as a name): with no object or alias called Properties, it is the property column.
    if (qualifier !== null && lower(qualifier) === 'properties' && name !== '*' && !chain.some((s) => s.entries.some((e) => e.names.includes('properties')))) {
      name = `Properties.${name}`;
      qualifier = null;
      ref.table = null;
      setColumnRefName(ref, name);
    }
    if (qualifier !== null) {
      for (const scope of chain) {
        const entry = scope.entries.find((e) => e.names.includes(lower(qualifier)));
        if (!entry) continue;
        if (!entry.use) return; // a column of a subquery in FROM: SQLite resolves it
        if (name === '*') return this.allColumns(entry.use);
        const col = this.addColumn(entry.use, name)!;
        setColumnRefName(ref, col.name);
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
          setColumnRefName(ref, canonical!.name);
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

/** A WHERE conjunct as SQL, saying why a custom property condition cannot go to Klaviyo. */
function conditionText(node: SqlNode): string {
  let text: string;
  try {
    text = exprSql(node);
  } catch {
    text = 'a condition';
  }
  let onProperty = false;
  const visit = (n: unknown): void => {
    if (!n || typeof n !== 'object' || onProperty) return;
    if (isColumnRef(n) && isPropertyColumnName(columnRefName(n) ?? '')) onProperty = true;
    else for (const v of Object.values(n)) visit(v);
  };
  visit(node);
  return onProperty ? `${text}   (a custom property: no Klaviyo endpoint filters on custom properties)` : text;
}

function limitOf(sel: Select): { limit?: number; offset: number } {
  const values: unknown[] = sel.limit?.value ?? [];
  if (values.length === 0) return { offset: 0 };
  const nums = values.map((v) => {
    const l = sqlLiteral(v);
    return l?.kind === 'number' ? Number(l.text) : undefined;
  });
  if (nums.some((n) => typeof n !== 'number' || !Number.isInteger(n) || n < 0)) return { offset: 0, limit: undefined };
  // `LIMIT a, b` (MySQL order: offset first) vs `LIMIT a OFFSET b`.
  if (values.length === 2) {
    return sel.limit?.seperator === 'offset' ? { limit: nums[0] as number, offset: nums[1] as number } : { limit: nums[1] as number, offset: nums[0] as number };
  }
  return { limit: nums[0] as number, offset: 0 };
}

export function analyzeSelect(ast: AST): Analysis {
  if (!isSelect(ast)) throw unsupported(`the statement ${String(ast?.type ?? '').toUpperCase()}`);
  const a = new Analyzer();
  const top = a.select(ast, []);
  if (a.tables.size === 0) throw unsupported('a SELECT without an object in FROM', "Name an object: SELECT * FROM Lists. 'klv objects' lists them.");

  // Conditions for the planner: top-level WHERE conjuncts on an object that appears once.
  const byQualifier = new Map<string, TableUse>();
  for (const e of top.entries) if (e.use) for (const n of e.names) byQualifier.set(n, e.use);
  const resolve = (ref: unknown): { table: string; column: ColumnDef } | undefined => {
    if (!isColumnRef(ref)) return undefined;
    const name = columnRefName(ref);
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
    const found = conjunctConditions(c, resolve, 'exact');
    if ('conditions' in found) a.tables.get(found.table)!.where.push(...found.conditions);
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
    for (const c of ast.columns) {
      const e: unknown = isNode(c) ? c.expr : undefined;
      if (!isColumnRef(e)) {
        plain = false;
        break;
      }
      const name = columnRefName(e);
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
  rewriteDatetimeLiterals(ast, (ref) => isNode(ref) && a.datetimeRefs.has(ref));
  return { ast, tables: a.tables, residual, residualSql, simple, pushLimit, localWork };
}
