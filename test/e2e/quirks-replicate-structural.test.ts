/**
 * The quirk matrix, `klv replicate --to sqlite:FILE` under structural quirks and 429s (issue
 * 12): as quirks-replicate.test.ts, for the behaviours Klaviyo shows on every answer (unsorted
 * pages, inclusive bounds, links naming a.klaviyo.com, microsecond and space-separated
 * datetimes, archived flows left out) and for 429s without Retry-After or with one past what klv
 * waits. Under a datetime quirk the replica is first built under it, and its values checked.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { caseTitle, casesFor, playCase, startMatrix, type MatrixContext } from '../helpers/quirk-matrix.js';
import { replicateCase } from '../helpers/quirk-replicate.js';

let m: MatrixContext;

beforeAll(async () => {
  m = await startMatrix({ name: 'replicate-structural', profiles: 2500 });
});

afterAll(async () => {
  await m?.close();
});

describe('klv replicate under structural Klaviyo quirks', () => {
  for (const c of casesFor('replicate', 'structural')) {
    it(caseTitle(c), async () => {
      await playCase(c, () => replicateCase(m, c));
    }, 120_000);
  }
});
