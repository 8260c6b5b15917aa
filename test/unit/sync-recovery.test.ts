/** klv sync's crash safety: what a create left pending by an earlier run becomes (recovery.ts). */
import { describe, expect, it } from 'vitest';
import { ambiguityMessage, CLOCK_SKEW_MS, couldBe, decideRecoveries, type PendingCreate, type Recovery, type UntiedRecord } from '../../src/sync/recovery.js';

const SINCE = '2026-03-01T12:00:00.000Z';
const at = (offsetMs: number) => new Date(Date.parse(SINCE) + offsetMs).toISOString().replace('.000Z', '+00:00');

function intent(rowKey: number, name: string | null, since = SINCE): PendingCreate {
  return { rowKey, name, values: { Name: name, OptInProcess: 'single_opt_in' }, attemptHash: `h${rowKey}`, since };
}

const record = (id: string, name: string | null, created: string | null = at(400)): UntiedRecord => ({ id, name, created });

/** Decisions as plain `rowKey kind ids` lines, easy to compare. */
function decide(pending: Array<[PendingCreate, 'open' | 'tied' | 'deleted']>, records: UntiedRecord[]): string[] {
  return decideRecoveries(pending.map(([i, row]) => ({ intent: i, row })), records).map((r: Recovery) => {
    const ids = r.kind === 'adopt' ? ` ${r.id}` : r.kind === 'ambiguous' ? ` ${r.ids.join(',')}` : '';
    return `${r.intent.rowKey} ${r.kind}${ids}`;
  });
}

describe('couldBe', () => {
  it('needs the same name', () => {
    expect(couldBe(intent(1, 'Spring'), record('A', 'Spring'))).toBe(true);
    expect(couldBe(intent(1, 'Spring'), record('A', 'spring'))).toBe(false);
    expect(couldBe(intent(1, null), record('A', null))).toBe(false);
  });
  it('rules out a record created before the intent, beyond the clock margin', () => {
    expect(couldBe(intent(1, 'Spring'), record('A', 'Spring', at(-CLOCK_SKEW_MS - 1000)))).toBe(false);
    // Within the margin: Klaviyo's clock may be behind klv's, and it stamps whole seconds.
    expect(couldBe(intent(1, 'Spring'), record('A', 'Spring', at(-900)))).toBe(true);
    expect(couldBe(intent(1, 'Spring'), record('A', 'Spring', at(-CLOCK_SKEW_MS + 1000)))).toBe(true);
    // Long after (the next run came a week later): still the create's.
    expect(couldBe(intent(1, 'Spring'), record('A', 'Spring', at(7 * 86_400_000)))).toBe(true);
  });
  it('reads zoneless times as UTC whatever the machine zone', () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      // An hour before the intent in UTC: someone else's. Read in New York's zone it would be four hours after.
      expect(couldBe(intent(1, 'Spring'), record('A', 'Spring', '2026-03-01 11:00:00'))).toBe(false);
      expect(couldBe(intent(1, 'Spring', '2026-03-01 12:00:00'), record('A', 'Spring', at(-3_600_000)))).toBe(false);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
  it('keeps a record whose creation time is unknown as a candidate', () => {
    expect(couldBe(intent(1, 'Spring'), record('A', 'Spring', null))).toBe(true);
  });
});

describe('decideRecoveries', () => {
  it('adopts the one record that is the create (the process died before the Id came back)', () => {
    expect(decide([[intent(7, 'Spring'), 'open']], [record('A', 'Spring'), record('B', 'Summer')])).toEqual(['7 adopt A']);
  });

  it('finds nothing when the create never reached Klaviyo: the row is created afresh', () => {
    expect(decide([[intent(7, 'Spring'), 'open']], [record('B', 'Summer')])).toEqual(['7 absent']);
    // A record of that name made long before the intent is someone else's.
    expect(decide([[intent(7, 'Spring'), 'open']], [record('Old', 'Spring', at(-86_400_000))])).toEqual(['7 absent']);
  });

  it('does not guess between several records that could be it', () => {
    expect(decide([[intent(7, 'Spring'), 'open']], [record('A', 'Spring'), record('B', 'Spring', at(900))])).toEqual(['7 ambiguous A,B']);
  });

  it('does not hand one record to two rows of the same name', () => {
    // Two rows named alike, both pending; Klaviyo made only one record: whose is it?
    expect(decide([[intent(7, 'Spring'), 'open'], [intent(8, 'Spring', at(200)), 'open']], [record('A', 'Spring')])).toEqual(['7 ambiguous A', '8 ambiguous A']);
  });

  it('settles rows of different names independently', () => {
    expect(
      decide(
        [
          [intent(1, 'One'), 'open'],
          [intent(2, 'Two'), 'open'],
          [intent(3, 'Three'), 'open'],
        ],
        [record('A', 'One'), record('C1', 'Three'), record('C2', 'Three')],
      ),
    ).toEqual(['1 adopt A', '2 absent', '3 ambiguous C1,C2']);
  });

  it('drops the intent of a row tied to a record since (its Id written back or put there by hand)', () => {
    // The tied row takes no part: the other row's record is not "shared" with it.
    expect(decide([[intent(7, 'Spring'), 'tied'], [intent(8, 'Spring'), 'open']], [record('A', 'Spring')])).toEqual(['7 obsolete', '8 adopt A']);
  });

  it('adopts the record of a row deleted since (the usual delete then reaches Klaviyo), or drops the intent', () => {
    expect(decide([[intent(7, 'Spring'), 'deleted']], [record('A', 'Spring')])).toEqual(['7 adopt A']);
    expect(decide([[intent(7, 'Spring'), 'deleted']], [])).toEqual(['7 absent']);
  });

  it('says what happened and what to do when it cannot decide', () => {
    const [r] = decideRecoveries([{ intent: intent(7, 'Spring'), row: 'open' }], [record('A', 'Spring'), record('B', 'Spring')]);
    expect(r!.kind).toBe('ambiguous');
    const message = ambiguityMessage(r as Extract<Recovery, { kind: 'ambiguous' }>);
    expect(message).toContain('"Spring"');
    expect(message).toContain('A, B');
    expect(message).toMatch(/Put the right record's Id in this row's Id column/);
  });
});
