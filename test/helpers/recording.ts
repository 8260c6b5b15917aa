/**
 * Exchange recordings for end-to-end tests: the emulator appends every request and response it
 * handles to the file named by KLV_EMULATOR_RECORD (or its `record` option), and
 * `expectConformant()` checks each of them against Klaviyo's OpenAPI spec. Any e2e test that
 * drives the emulator can prove, in two lines, that both sides of the wire stayed within the spec:
 *
 *   const recording = withRecording();            // in a describe block: temp file + env var
 *   ...spawn klv with { env: recording.env } or startEmulator({ record: recording.file })...
 *   recording.expectConformant();                 // after the command exited / emulator closed
 *
 * Check only after the emulator has closed or the command has exited, so that every line is on
 * disk. When the spec is absent, expectConformant() prints why once and checks nothing: the rest of
 * the test still runs (only spec checks depend on the spec).
 */
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { loadSpec } from './spec.js';
import { specValidator, type RecordedExchange, type RecordingReport } from './spec-validator.js';

export const RECORD_ENV = 'KLV_EMULATOR_RECORD';

export interface ConformanceOptions {
  /** Exchanges the test provoked on purpose (a refused key, an out-of-range page size). */
  ignore?: (exchange: RecordedExchange) => boolean;
  /**
   * At least this many exchanges must have been checked (default 1): a recording that stayed
   * empty because the emulator never saw the env var must not pass as "no problems".
   */
  minExchanges?: number;
}

export interface Recording {
  /** The NDJSON file the emulator appends to. */
  readonly file: string;
  /** process.env plus KLV_EMULATOR_RECORD, for child processes. */
  readonly env: NodeJS.ProcessEnv;
  /** Empties the file (the emulator opens it for appending, so it keeps writing to it). */
  clear(): void;
  /** Validates the recording; null when the spec is absent. */
  report(options?: Pick<ConformanceOptions, 'ignore'>): RecordingReport | null;
  /** Fails the test when an exchange breaks the spec or too few were recorded; the report, or null without a spec. */
  expectConformant(options?: ConformanceOptions): RecordingReport | null;
  /** Restores KLV_EMULATOR_RECORD and removes the temp folder. */
  dispose(): void;
}

/**
 * Creates a temp recording file now. With `setEnv` (the default) process.env.KLV_EMULATOR_RECORD
 * points at it until dispose(), so in-process emulators started meanwhile record to it too.
 */
export function startRecording(options: { setEnv?: boolean } = {}): Recording {
  const dir = mkdtempSync(join(tmpdir(), 'klv-record-'));
  const file = join(dir, 'exchanges.ndjson');
  writeFileSync(file, '');
  const setEnv = options.setEnv ?? true;
  const previous = process.env[RECORD_ENV];
  if (setEnv) process.env[RECORD_ENV] = file;
  let disposed = false;

  const report = (o: Pick<ConformanceOptions, 'ignore'> = {}): RecordingReport | null => {
    if (!loadSpec()) return null;
    if (!existsSync(file)) throw new Error(`the recording ${file} is gone: was it checked after dispose()?`);
    return specValidator().validateRecording(file, { ignore: o.ignore });
  };

  return {
    file,
    env: { ...process.env, [RECORD_ENV]: file },
    clear: () => writeFileSync(file, ''),
    report,
    expectConformant(o: ConformanceOptions = {}) {
      const result = report(o);
      if (!result) return null;
      expectConformantReport(result, o.minExchanges ?? 1, file);
      return result;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      if (setEnv) {
        if (previous === undefined) delete process.env[RECORD_ENV];
        else process.env[RECORD_ENV] = previous;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * startRecording() for a describe block: the file is created in beforeAll and removed in
 * afterAll. Use `recording.clear()` in a beforeEach to check each test's exchanges on their own.
 */
export function withRecording(options: { setEnv?: boolean } = {}): Recording {
  let current: Recording | undefined;
  beforeAll(() => {
    current = startRecording(options);
  });
  afterAll(() => current?.dispose());
  const get = (): Recording => {
    if (!current) throw new Error('withRecording(): the recording exists only inside tests and hooks of its describe block');
    return current;
  };
  return {
    get file() {
      return get().file;
    },
    get env() {
      return get().env;
    },
    clear: () => get().clear(),
    report: (o) => get().report(o),
    expectConformant: (o) => get().expectConformant(o),
    dispose: () => get().dispose(),
  };
}

/** Validates a recording file made by other means (e.g. a `record` option of your choosing). */
export function expectConformant(file: string, options: ConformanceOptions = {}): RecordingReport | null {
  if (!loadSpec()) return null;
  const result = specValidator().validateRecording(file, { ignore: options.ignore });
  expectConformantReport(result, options.minExchanges ?? 1, file);
  return result;
}

function expectConformantReport(result: RecordingReport, minExchanges: number, file: string): void {
  expect(
    result.exchanges,
    `expected at least ${minExchanges} recorded exchange(s) in ${file}; is the emulator recording (record option or ${RECORD_ENV})?`,
  ).toBeGreaterThanOrEqual(minExchanges);
  expect(
    result.problems,
    `${result.problems.length} exchange problem(s) against Klaviyo's OpenAPI spec:\n  ${result.problems.join('\n  ')}`,
  ).toEqual([]);
}
