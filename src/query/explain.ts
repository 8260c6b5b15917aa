/**
 * `klv query --explain`: the plan of each object the query reads (the export's explain: the
 * requests with their Klaviyo filter strings, what each object's planner checks locally, the
 * estimate from page sizes and rate limits), then what SQLite does locally. Nothing is sent.
 */
import { explainReport, formatDuration, renderExplain, type ExplainReport } from '../pipeline/export/explain.js';
import type { Analysis } from './analyze.js';
import type { PlannedTable } from './engine.js';

export interface QueryExplain {
  sql: string;
  engine: 'stream' | 'sqlite';
  objects: ExplainReport[];
  local: string[];
  /** Top-level WHERE conditions no endpoint filter expresses: SQLite checks them on the loaded rows. */
  checkedLocally: string[];
  /** Sum over the objects, per row count of the estimates. */
  total: Array<{ rows: number; requests: number; seconds: number }>;
}

export function queryExplain(sql: string, analysis: Analysis, tables: PlannedTable[]): QueryExplain {
  const objects = tables.map((t) => explainReport(t.def, t.request, t.plan));
  const total = (objects[0]?.estimates ?? []).map((_, i) => ({
    rows: objects[0].estimates[i].rows,
    requests: objects.reduce((s, o) => s + (o.estimates[i]?.requests ?? 0), 0),
    // Objects load one after the other.
    seconds: objects.reduce((s, o) => s + (o.estimates[i]?.seconds ?? 0), 0),
  }));
  return {
    sql,
    engine: analysis.simple ? 'stream' : 'sqlite',
    objects,
    local: analysis.simple ? [] : analysis.localWork,
    checkedLocally: analysis.residualSql,
    total,
  };
}

export function renderQueryExplain(e: QueryExplain): string {
  const out: string[] = [];
  out.push(`Query plan: ${e.objects.length} object${e.objects.length === 1 ? '' : 's'} read from Klaviyo. Nothing was sent to Klaviyo.`);
  out.push('');
  for (const o of e.objects) {
    const text = renderExplain(o).trimEnd().split('\n');
    text[0] = `== ${o.object}${o.limit !== null ? ` (at most ${o.limit.toLocaleString('en-US')} rows)` : ''}`;
    out.push(...text, '');
  }
  if (e.engine === 'stream') {
    out.push('Runs locally: nothing beyond the object\'s own checks; rows stream from the API to the output.');
  } else {
    out.push(`Runs locally, in a temporary SQLite file: loading ${e.objects.map((o) => o.object).join(', ')}; the whole query${e.local.length > 0 ? ` (${e.local.join(', ')})` : ''}.`);
    if (e.checkedLocally.length > 0) {
      out.push('');
      out.push('WHERE conditions SQLite checks on the rows read (no Klaviyo filter expresses them):');
      for (const c of e.checkedLocally) out.push(`  ${c}`);
    }
  }
  if (e.objects.length > 1 && e.total.length > 0) {
    out.push('');
    out.push('Total estimate (objects load one after the other):');
    for (const t of e.total) out.push(`  ${t.rows.toLocaleString('en-US')} rows each: ${t.requests.toLocaleString('en-US')} requests, at least ${formatDuration(t.seconds)}`);
  }
  return `${out.join('\n')}\n`;
}
