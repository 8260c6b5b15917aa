/**
 * Klaviyo API revisions (`YYYY-MM-DD`, optionally `.pre` for beta) and their lifecycle. Pure.
 *
 * Klaviyo's versioning policy: a revision is stable for one year after its release date,
 * deprecated for the year after that, and retired two years after release (retired revisions
 * answer 410 or silently fall forward to a newer one).
 */

const REVISION_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(\.[a-z0-9]+)?$/;

/** The release date of a revision (UTC midnight), or null when it is not a real `YYYY-MM-DD[.suffix]`. */
export function revisionDate(revision: string): Date | null {
  const m = REVISION_PATTERN.exec(revision);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  // Rejects 2026-02-30 and 2026-13-01, which Date would roll over.
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return date;
}

export type RevisionStatus = 'stable' | 'deprecated' | 'retired' | 'future';

export interface RevisionLifecycle {
  revision: string;
  status: RevisionStatus;
  released: string;
  deprecatedOn: string;
  retiredOn: string;
}

function addYears(date: Date, years: number): Date {
  return new Date(Date.UTC(date.getUTCFullYear() + years, date.getUTCMonth(), date.getUTCDate()));
}

const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/** Where a revision is in its lifecycle on `now`. Throws on a malformed revision (validate first). */
export function revisionLifecycle(revision: string, now: Date): RevisionLifecycle {
  const released = revisionDate(revision);
  if (!released) throw new Error(`Not an API revision: ${revision}`);
  const deprecatedOn = addYears(released, 1);
  const retiredOn = addYears(released, 2);
  let status: RevisionStatus;
  if (now.getTime() < released.getTime()) status = 'future';
  else if (now.getTime() < deprecatedOn.getTime()) status = 'stable';
  else if (now.getTime() < retiredOn.getTime()) status = 'deprecated';
  else status = 'retired';
  return {
    revision,
    status,
    released: isoDay(released),
    deprecatedOn: isoDay(deprecatedOn),
    retiredOn: isoDay(retiredOn),
  };
}
