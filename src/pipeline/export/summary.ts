/**
 * The line an export ends with, for people (stderr) or as JSON:
 *   Exported 2,000 profiles in 3.2 s (20 requests, 0 rate-limited, 0 retries) to out.csv
 * Pure functions.
 */

export interface ExportSummary {
  /** Canonical object name (`EmailTemplates`). */
  object: string;
  rows: number;
  seconds: number;
  requests: number;
  retries: number;
  /** 429 answers, when the client counts them. */
  rateLimited?: number;
  /** Time requests were held back by klv's rate governor. */
  throttledSeconds: number;
  format: string;
  /** `stdout` or the file path as given. */
  output: string;
}

/** `EmailTemplates` -> `email templates`; `1` -> `email template`. Names not ending in s count rows. */
export function objectNoun(object: string, count: number): string {
  const words = object.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  if (!words.endsWith('s')) return `${words} ${count === 1 ? 'row' : 'rows'}`;
  if (count !== 1) return words;
  if (words.endsWith('ies')) return `${words.slice(0, -3)}y`;
  return words.slice(0, -1);
}

export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

const int = (n: number) => n.toLocaleString('en-US');

export function formatSummary(s: ExportSummary): string {
  const counts = [`${int(s.requests)} request${s.requests === 1 ? '' : 's'}`];
  if (s.rateLimited !== undefined) counts.push(`${int(s.rateLimited)} rate-limited`);
  counts.push(`${int(s.retries)} retr${s.retries === 1 ? 'y' : 'ies'}`);
  if (s.throttledSeconds >= 0.1) counts.push(`held ${formatSeconds(s.throttledSeconds)} by rate limits`);
  return `Exported ${int(s.rows)} ${objectNoun(s.object, s.rows)} in ${formatSeconds(s.seconds)} (${counts.join(', ')}) to ${s.output}`;
}

/** The summary as one JSON object (for --json). */
export function summaryJson(s: ExportSummary): Record<string, unknown> {
  return {
    object: s.object,
    rows: s.rows,
    seconds: Math.round(s.seconds * 1000) / 1000,
    requests: s.requests,
    rateLimited: s.rateLimited ?? null,
    retries: s.retries,
    throttledSeconds: Math.round(s.throttledSeconds * 1000) / 1000,
    format: s.format,
    output: s.output,
  };
}
