/**
 * Building the query of a read request from the columns it must produce: sparse fieldsets
 * (`fields[profile]=email,location.city`) so Klaviyo sends only what is needed, and
 * `additional-fields[...]` only for the on-demand columns the user selected. Everything is
 * checked against the spec's enums, so klv never sends a parameter Klaviyo would refuse.
 */
import type { OperationMeta } from '../../klaviyo/api-metadata-types.js';
import { OPERATIONS, type OperationId } from '../../klaviyo/generated/api-metadata.js';
import type { ColumnDef, PlannedRequest } from '../types.js';

function sparseEntries(column: ColumnDef): readonly string[] | undefined {
  if (column.sparseField !== undefined) {
    return column.sparseField === null ? [] : typeof column.sparseField === 'string' ? [column.sparseField] : column.sparseField;
  }
  if (column.get) return undefined; // computed from the whole resource: cannot restrict
  if (!column.path || column.path === 'id') return [];
  return [column.path];
}

/**
 * `fields[type]` for these columns, or undefined when the request must fetch every attribute (a
 * computed column reads the whole resource, or the endpoint has no sparse fieldset for the type).
 */
export function sparseFieldset(operationId: OperationId, type: string, columns: readonly ColumnDef[]): string | undefined {
  const allowed = OPERATIONS[operationId].fields[type];
  if (!allowed || allowed.length === 0) return undefined;
  const entries = new Set<string>();
  for (const c of columns) {
    const wanted = sparseEntries(c);
    if (wanted === undefined) return undefined;
    for (const w of wanted) {
      if (allowed.includes(w)) entries.add(w);
      else {
        const top = w.split('.')[0];
        if (!allowed.includes(top)) return undefined;
        entries.add(top);
      }
    }
  }
  // A parent makes its children redundant (`location` covers `location.city`).
  const list = [...entries].filter((e) => !e.includes('.') || !entries.has(e.split('.')[0])).sort();
  // Klaviyo returns at least the id; an empty fieldset would be refused, so ask for one attribute.
  if (list.length === 0) return allowed.find((a) => a !== 'id' && !a.includes('.'));
  return list.join(',');
}

/** `additional-fields[type]` for the on-demand columns among these, if the endpoint offers them. */
export function additionalFields(operationId: OperationId, type: string, columns: readonly ColumnDef[]): string | undefined {
  const allowed = OPERATIONS[operationId].additionalFields[type] ?? [];
  const wanted = [...new Set(columns.map((c) => c.additionalField).filter((a): a is string => Boolean(a)))];
  const ok = wanted.filter((w) => allowed.includes(w));
  return ok.length > 0 ? ok.sort().join(',') : undefined;
}

export function pageSizeOf(operationId: OperationId): number | null {
  const meta: OperationMeta = OPERATIONS[operationId];
  return meta.pageSize?.max ?? meta.fixedPageSize ?? null;
}

/** A PlannedRequest for --explain, with the page size klv will ask for. */
export function plannedRequest(
  operationId: OperationId,
  query: Record<string, string | undefined>,
  purpose: string,
  opts: { pathParams?: Record<string, string>; repeat?: number | null } = {},
): PlannedRequest {
  const meta = OPERATIONS[operationId];
  let path = meta.path;
  for (const [k, v] of Object.entries(opts.pathParams ?? {})) path = path.replace(`{${k}}`, v);
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) if (v !== undefined) clean[k] = v;
  const size = meta.paginated ? pageSizeOf(operationId) : null;
  if (meta.pageSize?.max) clean['page[size]'] = String(meta.pageSize.max);
  return { operationId, method: meta.method, path, query: clean, purpose, pageSize: size, repeat: opts.repeat ?? null };
}
