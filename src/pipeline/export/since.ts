/**
 * `--since`: the start of an incremental export, as an ISO 8601 instant (`2026-07-01`,
 * `2026-07-01T12:00:00Z`, `2026-07-01T14:00:00+02:00`; no zone means UTC) or a span back from
 * now (`30m`, `12h`, `7d`, `2w`, `90s`).
 *
 * "Now" is the injected clock, or `KLV_NOW` when set (tests, and re-running yesterday's cron
 * job as it would have run), like `klv doctor`.
 */
import { UsageError } from '../../core/errors.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { epochMsFloor, parseInstant } from '../../core/timestamps.js';

const UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

const HINT = 'Use an ISO 8601 date or time (2026-07-01, 2026-07-01T12:00:00Z) or a span back from now: 30m, 12h, 7d, 2w.';

/** The current time for relative --since values: KLV_NOW when set, else the clock. */
export function exportNow(env: NodeJS.ProcessEnv, clock: Clock = systemClock): Date {
  const override = env.KLV_NOW;
  if (override === undefined || override === '') return new Date(clock.now());
  const parsed = sinceDate(override);
  if (!parsed) {
    throw new UsageError(`KLV_NOW '${override.slice(0, 40)}' is not an ISO date`, 'Use e.g. KLV_NOW=2027-08-01T00:00:00Z or unset it.');
  }
  return parsed;
}

/**
 * An ISO 8601 date or date-time (core/timestamps: no zone means UTC, a date alone midnight UTC,
 * no roll-over of 2026-02-30 into March), as the Date the export filters with (to the millisecond).
 */
function sinceDate(text: string): Date | undefined {
  const instant = parseInstant(text, { dateAsMidnight: true });
  return instant ? new Date(epochMsFloor(instant)) : undefined;
}

export function parseSince(text: string, now: Date): Date {
  const t = text.trim();
  const rel = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(t);
  if (rel) {
    const amount = Number(rel[1]);
    const ms = amount * UNIT_MS[rel[2].toLowerCase()];
    if (!Number.isFinite(ms) || ms <= 0) throw new UsageError(`--since '${text}' must be a span longer than zero.`, HINT);
    return new Date(now.getTime() - ms);
  }
  const instant = sinceDate(t);
  if (!instant) throw new UsageError(`--since '${text}' is not a date, a time or a span.`, HINT);
  return instant;
}
