/**
 * The export's closing summary line and its live progress text (pure parts).
 */
import { describe, expect, it } from 'vitest';
import { formatSeconds, formatSummary, objectNoun, summaryJson, type ExportSummary } from '../../src/pipeline/export/summary.js';
import { progressText } from '../../src/pipeline/export/progress.js';

const base: ExportSummary = {
  object: 'Profiles',
  rows: 2000,
  seconds: 3.21,
  requests: 20,
  retries: 0,
  rateLimited: 0,
  throttledSeconds: 0,
  format: 'csv',
  output: 'out.csv',
};

describe('formatSummary', () => {
  it('the line the issue shows', () => {
    expect(formatSummary(base)).toBe('Exported 2,000 profiles in 3.2 s (20 requests, 0 rate-limited, 0 retries) to out.csv');
  });

  it('singular forms, stdout, the rate-limit hold', () => {
    expect(formatSummary({ ...base, rows: 1, requests: 1, retries: 1, throttledSeconds: 1.5, output: 'stdout' })).toBe(
      'Exported 1 profile in 3.2 s (1 request, 0 rate-limited, 1 retry, held 1.5 s by rate limits) to stdout',
    );
  });

  it('without a 429 count from the client the figure is left out rather than guessed', () => {
    expect(formatSummary({ ...base, rateLimited: undefined })).toBe('Exported 2,000 profiles in 3.2 s (20 requests, 0 retries) to out.csv');
  });

  it('object names as words', () => {
    expect(objectNoun('EmailTemplates', 2)).toBe('email templates');
    expect(objectNoun('EmailTemplates', 1)).toBe('email template');
    expect(objectNoun('ListMembers', 0)).toBe('list members');
    expect(objectNoun('Categories', 1)).toBe('category');
    expect(objectNoun('ListSubscribe', 3)).toBe('list subscribe rows');
    expect(objectNoun('ListSubscribe', 1)).toBe('list subscribe row');
  });

  it('durations', () => {
    expect(formatSeconds(0.04)).toBe('0.0 s');
    expect(formatSeconds(9.96)).toBe('10.0 s');
    expect(formatSeconds(12.4)).toBe('12 s');
    expect(formatSeconds(125)).toBe('2 min 5 s');
  });

  it('as JSON', () => {
    expect(summaryJson({ ...base, rateLimited: undefined })).toEqual({
      object: 'Profiles',
      rows: 2000,
      seconds: 3.21,
      requests: 20,
      rateLimited: null,
      retries: 0,
      throttledSeconds: 0,
      format: 'csv',
      output: 'out.csv',
    });
  });
});

describe('progressText', () => {
  it('rows, requests and rows per second', () => {
    expect(progressText({ noun: 'profiles', rows: 12_300, requests: 123, elapsedMs: 3_000, waiting: false })).toBe(
      'Exporting profiles: 12,300 rows, 123 requests, 4,100 rows/s',
    );
  });

  it('says when the rate governor holds requests back', () => {
    expect(progressText({ noun: 'events', rows: 0, requests: 1, elapsedMs: 0, waiting: true })).toBe(
      'Exporting events: 0 rows, 1 request, 0 rows/s (waiting for the rate limit)',
    );
  });
});
