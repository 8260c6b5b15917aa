/**
 * The quirk matrix, `klv import` (issue 12): for each real-world behaviour of Klaviyo in
 * test/helpers/quirk-matrix.ts's table, a profiles upsert (bulk import jobs, safe to send again)
 * and a lists insert (one create per row, not safe to send again) leave every input row in
 * exactly one of the success and error logs, with each logged success real in Klaviyo and
 * nothing created twice or unasked; the exit code is 0 only when every row succeeded.
 *
 * Build first: npx tsc -p tsconfig.json (npm test does it).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { importCase } from '../helpers/quirk-import.js';
import { caseTitle, casesFor, playCase, startMatrix, type MatrixContext } from '../helpers/quirk-matrix.js';

let m: MatrixContext;

beforeAll(async () => {
  m = await startMatrix({ name: 'import', profiles: 500 });
});

afterAll(async () => {
  await m?.close();
});

describe('klv import under Klaviyo quirks', () => {
  for (const c of casesFor('import')) {
    it(caseTitle(c), async () => {
      await playCase(c, () => importCase(m, c));
    }, 90_000);
  }
});
