/**
 * The quirk matrix, `klv sync OBJECT --with sqlite:FILE` (issue 12): for each real-world
 * behaviour of Klaviyo in test/helpers/quirk-matrix.ts's table, after changes on both sides a
 * sync either converges (every Klaviyo record in exactly one row with Klaviyo's values, the
 * table's new row created in Klaviyo exactly once, deletions on each side reaching the other)
 * with exit 0, or exits 1 naming the cause with the table, its map and Klaviyo's records
 * untouched: no record created or deleted.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { caseTitle, casesFor, playCase, startMatrix, type MatrixContext } from '../helpers/quirk-matrix.js';
import { syncCase } from '../helpers/quirk-sync.js';

let m: MatrixContext;

beforeAll(async () => {
  // Sync reads templates and campaigns in full: the profiles only need to exist.
  m = await startMatrix({ name: 'sync', profiles: 500 });
});

afterAll(async () => {
  await m?.close();
});

describe('klv sync under Klaviyo quirks', () => {
  for (const c of casesFor('sync')) {
    it(caseTitle(c), async () => {
      await playCase(c, () => syncCase(m, c));
    }, 90_000);
  }
});
