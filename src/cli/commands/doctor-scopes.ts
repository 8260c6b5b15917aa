/**
 * The scopes part of `klv doctor`: which API key scopes each command needs, and which of them the
 * key lacks.
 *
 * The needs are derived, never written down: the operations each command calls for each object
 * (objects/operations-used.ts, from the catalog) mapped to the scopes the spec names for them
 * (OPERATIONS[op].scopes), keeping the fewest that grant them all (a write scope includes its
 * read scope, as Klaviyo's full access does).
 *
 * Only read scopes are checked against the account, with one small GET each (page[size] at its
 * minimum), sent together under the client's rate governor: checking a write scope would mean
 * writing. A read scope the key lacks also tells that its write scope is missing.
 */
import type { ChalkInstance } from 'chalk';
import type { OperationMeta } from '../../klaviyo/api-metadata-types.js';
import { OPERATIONS, type OperationId } from '../../klaviyo/generated/api-metadata.js';
import { readScopeOf, scopeResource, SPEC_SCOPES, withoutImpliedReads } from '../../klaviyo/scopes.js';
import { conditionalWriteOperations, readOperations, syncOperations, writeOperations } from '../../objects/operations-used.js';
import { allObjects } from '../../objects/registry.js';
import type { ObjectDefinition, Operation } from '../../objects/types.js';
import { SYNCABLE_OBJECTS } from '../../sync/spec.js';
import type { Finding } from './doctor.js';

/** `export` stands for export, query and replicate, which read an object alike. */
export type ScopedCommand = 'export' | 'import' | 'sync';

export interface CommandScopes {
  command: ScopedCommand;
  object: string;
  /** The import operation; null for export and sync. */
  operation: Operation | null;
  /** Only in some runs (`--list`): then `scopes` are those needed beyond the run without it. */
  when: string | null;
  /** The fewest scopes that allow every operation the command calls, sorted. */
  scopes: string[];
}

/** Pure: the scopes of every command on every object of the catalog. */
export function commandScopes(catalog: readonly ObjectDefinition[] = allObjects()): CommandScopes[] {
  const out: CommandScopes[] = [];
  const add = (command: ScopedCommand, def: ObjectDefinition, operation: Operation | null, ops: readonly OperationId[]) => {
    if (ops.length > 0) out.push({ command, object: def.name, operation, when: null, scopes: scopesOf(ops) });
  };
  for (const def of catalog) add('export', def, null, readOperations(def));
  for (const def of catalog) {
    for (const op of def.operations) {
      const base = writeOperations(def, op);
      add('import', def, op, base);
      for (const c of conditionalWriteOperations(def, op)) {
        const before = scopesOf(base);
        const extra = scopesOf([...base, ...c.operations]).filter((s) => !before.includes(s));
        if (extra.length > 0) out.push({ command: 'import', object: def.name, operation: op, when: c.when, scopes: extra });
      }
    }
  }
  for (const def of catalog) if (SYNCABLE_OBJECTS.includes(def.name)) add('sync', def, null, syncOperations(def));
  return out;
}

function scopesOf(ops: readonly OperationId[]): string[] {
  return withoutImpliedReads(ops.flatMap((op) => (OPERATIONS[op] as OperationMeta).scopes));
}

// ---------------------------------------------------------------------------------------------
// Checking read scopes against the account

/** One GET that needs `scope`: the cheapest way to learn whether the key has it. */
export interface ScopeProbe {
  scope: string;
  operationId: OperationId;
  query: Record<string, string>;
  /** The operation's other scopes: a 403 means `scope` is missing only if the key has these. */
  alongside: string[];
}

/**
 * The read scopes worth checking for these needs: every read scope needed, and the read scope of
 * every write scope needed (lacking it means lacking the write scope too), if the spec has it.
 */
export function scopesToCheck(needs: readonly CommandScopes[]): string[] {
  const known = new Set(SPEC_SCOPES);
  return [...new Set(needs.flatMap((n) => n.scopes.map(readScopeOf)))].filter((s) => known.has(s)).sort();
}

/**
 * Pure: the probe of a read scope, from the spec's metadata: a GET of a collection (no path
 * parameters) that needs the scope, preferring one that needs nothing else, takes no required
 * parameter, and that klv itself reads. A required filter is given with an enum value
 * (`equals(messages.channel,'email')` for campaigns). Null when no endpoint can serve.
 */
export function probeFor(scope: string, usedByKlv: ReadonlySet<string> = new Set()): ScopeProbe | null {
  const candidates = (Object.values(OPERATIONS) as OperationMeta[])
    .filter((op) => op.method === 'GET' && op.pathParams.length === 0 && op.scopes.includes(scope))
    .sort(
      (a, b) =>
        a.scopes.length - b.scopes.length ||
        a.requiredQuery.length - b.requiredQuery.length ||
        Number(usedByKlv.has(b.operationId)) - Number(usedByKlv.has(a.operationId)) ||
        a.operationId.localeCompare(b.operationId),
    );
  for (const op of candidates) {
    const query = probeQuery(op);
    if (query) return { scope, operationId: op.operationId as OperationId, query, alongside: op.scopes.filter((s) => s !== scope) };
  }
  return null;
}

function probeQuery(op: OperationMeta): Record<string, string> | null {
  const query: Record<string, string> = {};
  if (op.pageSize) query['page[size]'] = String(op.pageSize.min);
  for (const name of op.requiredQuery) {
    if (name !== 'filter') return null;
    const field = Object.entries(op.filters).find(([, f]) => f.operators.includes('equals') && typeof f.enum?.[0] === 'string');
    if (!field) return null;
    query.filter = `equals(${field[0]},'${String(field[1].enum![0])}')`;
  }
  return query;
}

export type ScopeStatus = 'granted' | 'missing' | 'unknown';

export interface ProbeResult {
  scope: string;
  /** The operation asked; null when no endpoint could check the scope. */
  operationId: string | null;
  status: ScopeStatus;
  /** Why the status is unknown. */
  reason?: string;
}

/** The part of the Klaviyo client the probes use. */
export interface ProbeClient {
  request(operationId: OperationId, o: { query?: Record<string, string>; signal?: AbortSignal }): Promise<unknown>;
}

/**
 * Sends the probes together (the client's rate governor paces them): first those that need only
 * their scope, then those whose endpoint needs another scope too, judged with the first results.
 */
export async function probeScopes(client: ProbeClient, scopes: readonly string[], signal?: AbortSignal): Promise<ProbeResult[]> {
  const usedByKlv = new Set(allObjects().flatMap((def) => readOperations(def)));
  const probes = scopes.map((scope) => ({ scope, probe: probeFor(scope, usedByKlv) }));
  const results = new Map<string, ProbeResult>();
  const run = (p: ScopeProbe, judge: (status: number | null, reason?: string) => ProbeResult) =>
    client.request(p.operationId, { query: p.query, signal }).then(
      () => judge(200),
      (err: unknown) => {
        if (signal?.aborted) throw err;
        const status = (err as { status?: unknown }).status;
        return judge(typeof status === 'number' ? status : null, (err as Error).message);
      },
    );
  const alone = probes.filter((p) => p.probe && p.probe.alongside.length === 0);
  for (const r of await Promise.all(alone.map(({ probe }) => run(probe!, (status, reason) => resultOf(probe!, status, reason))))) results.set(r.scope, r);
  const others = probes.filter((p) => p.probe && p.probe.alongside.length > 0);
  const judged = await Promise.all(
    others.map(({ probe }) =>
      run(probe!, (status, reason) => {
        const result = resultOf(probe!, status, reason);
        if (result.status !== 'missing') return result;
        const unsure = probe!.alongside.filter((s) => results.get(s)?.status !== 'granted');
        return unsure.length === 0 ? result : { ...result, status: 'unknown', reason: `${probe!.operationId} also needs ${unsure.join(', ')}, which could not be confirmed` };
      }),
    ),
  );
  for (const r of judged) results.set(r.scope, r);
  for (const { scope, probe } of probes) {
    if (!probe) results.set(scope, { scope, operationId: null, status: 'unknown', reason: 'no endpoint without an id needs this scope' });
  }
  return scopes.map((s) => results.get(s)!);
}

function resultOf(probe: ScopeProbe, status: number | null, reason?: string): ProbeResult {
  const base = { scope: probe.scope, operationId: probe.operationId };
  if (status !== null && status >= 200 && status < 300) return { ...base, status: 'granted' };
  if (status === 403) return { ...base, status: 'missing' };
  return { ...base, status: 'unknown', reason: reason ?? `status ${status}` };
}

// ---------------------------------------------------------------------------------------------
// The report

export type NeedStatus = ScopeStatus | 'unchecked';

export interface ScopeReport {
  /** Each read scope checked, and how. */
  checked: ProbeResult[];
  /** Every scope some command needs, with what the check found (write scopes: from their read scope). */
  scopes: Array<{ scope: string; status: NeedStatus; neededBy: string }>;
  /** Every command, with the scopes it needs that the key lacks. */
  commands: Array<CommandScopes & { missing: string[] }>;
}

/** Pure: what the checks mean for each scope and each command. */
export function buildScopeReport(needs: readonly CommandScopes[], checked: readonly ProbeResult[]): ScopeReport {
  const byScope = new Map(checked.map((r) => [r.scope, r.status]));
  const statusOf = (scope: string): NeedStatus => {
    const read = byScope.get(readScopeOf(scope));
    if (scope === readScopeOf(scope)) return read ?? 'unknown';
    // A write scope: missing with its read scope; otherwise writing is the only way to know.
    return read === 'missing' ? 'missing' : 'unchecked';
  };
  const all = [...new Set(needs.flatMap((n) => n.scopes))].sort();
  return {
    checked: [...checked],
    scopes: all.map((scope) => ({ scope, status: statusOf(scope), neededBy: describeNeeds(needs.filter((n) => n.scopes.includes(scope))) })),
    commands: needs.map((n) => ({ ...n, missing: n.scopes.filter((s) => statusOf(s) === 'missing') })),
  };
}

/** `export Lists, ListMembers; import ListMembers (insert, delete); sync Lists` */
export function describeNeeds(needs: readonly CommandScopes[]): string {
  const parts: string[] = [];
  for (const command of ['export', 'import', 'sync'] as const) {
    const objects = new Map<string, string[]>();
    for (const n of needs.filter((x) => x.command === command)) {
      const ops = objects.get(n.object) ?? [];
      if (n.operation) ops.push(n.when ? `${n.operation} with ${n.when}` : n.operation);
      objects.set(n.object, ops);
    }
    if (objects.size === 0) continue;
    const list = [...objects].map(([object, ops]) => (ops.length > 0 ? `${object} (${ops.join(', ')})` : object));
    parts.push(`${command} ${list.join(', ')}`);
  }
  return parts.join('; ');
}

/** Pure: a warning per scope the key lacks (what cannot be done), one per scope that could not be checked, one note on write scopes. */
export function scopeFindings(report: ScopeReport): Finding[] {
  const findings: Finding[] = [];
  for (const r of report.checked.filter((c) => c.status === 'missing')) {
    // Lacking X:read means lacking X:write too.
    const lost = report.commands.filter((c) => c.missing.some((m) => readScopeOf(m) === r.scope));
    const cannot = describeNeeds(lost).replace(/^export /, 'export, query or replicate ');
    const reads = lost.some((c) => c.missing.includes(r.scope));
    const writes = lost.some((c) => c.missing.some((m) => m !== r.scope && readScopeOf(m) === r.scope));
    const resource = scopeResource(r.scope);
    const access = reads && writes ? `Read access to ${resource} (Full access to import or sync it)` : reads ? `Read access to ${resource}` : `Full access to ${resource}`;
    findings.push({
      level: 'warning',
      message: `The key lacks ${r.scope}${cannot ? `: klv cannot ${cannot}` : ''}`,
      hint: `Give a key ${access} in Klaviyo (Settings > API keys; an existing key's scopes cannot change), or use a key that has it.`,
    });
  }
  for (const r of report.checked.filter((c) => c.status === 'unknown')) {
    findings.push({ level: 'warning', message: `Could not check ${r.scope}: ${r.reason ?? 'no answer'}` });
  }
  const unchecked = report.scopes.filter((s) => s.status === 'unchecked').map((s) => s.scope);
  if (unchecked.length > 0) {
    findings.push({
      level: 'note',
      message: `Write scopes are not checked (that would mean writing): ${unchecked.join(', ')}`,
      hint: 'An import or sync with a key that lacks one stops at its first write with exit 4, naming the scope.',
    });
  }
  return findings;
}

/** Pure: one line on the read scopes checked, for the report's rows. */
export function scopeSummary(report: ScopeReport, style: ChalkInstance): string {
  const count = (status: ScopeStatus) => report.checked.filter((c) => c.status === status).map((c) => c.scope);
  const missing = count('missing');
  const unknown = count('unknown');
  const parts = [`${count('granted').length} of ${report.checked.length} read scopes granted`];
  if (missing.length > 0) parts.push(style.red(`missing: ${missing.join(', ')}`));
  if (unknown.length > 0) parts.push(style.yellow(`not checked: ${unknown.join(', ')}`));
  return parts.join('; ');
}

/** Pure: the scope table of the human report, one line per scope. */
export function formatScopeSection(report: ScopeReport, style: ChalkInstance): string[] {
  if (report.scopes.length === 0) return [];
  const width = Math.max(...report.scopes.map((s) => s.scope.length));
  const label: Record<NeedStatus, string> = {
    granted: style.green('ok'.padEnd(9)),
    missing: style.red('missing'.padEnd(9)),
    unchecked: style.dim('unchecked'),
    unknown: style.yellow('unknown'.padEnd(9)),
  };
  return [
    `Scopes the commands need ${style.dim('(export also stands for query and replicate; read scopes checked with one small request each)')}`,
    ...report.scopes.map((s) => `  ${s.scope.padEnd(width)}  ${label[s.status]}  ${style.dim(s.neededBy)}`),
  ];
}
