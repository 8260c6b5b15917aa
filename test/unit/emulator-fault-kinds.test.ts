/**
 * The emulator's fault kinds, storms, job faults and their admin endpoint, in process over real
 * loopback HTTP. Storms run on the emulator's (fake) clock; the only real-time assertion is that a
 * `slow` response takes at least slowMs.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type RunningEmulator } from '../../src/emulator/server.js';
import { emulatorOptionsFrom } from '../../src/cli/commands/emulator.js';
import { UsageError } from '../../src/core/errors.js';
import { FAULT_KINDS } from '../../src/emulator/http/faults.js';
import { runKlv } from '../helpers/cli.js';

const KEY = 'pk_fault_kinds_0123456789';
const OTHER_KEY = 'pk_fault_kinds_other_0123456789';
const HEADERS = { authorization: `Klaviyo-API-Key ${KEY}`, revision: '2026-07-15' };
const JSON_HEADERS = { ...HEADERS, 'content-type': 'application/vnd.api+json' };
const NOW = new Date('2026-03-01T12:00:00Z');

let emu: RunningEmulator;
let clockMs = NOW.getTime();
let recordDir: string;
let recordFile: string;

beforeAll(async () => {
  recordDir = mkdtempSync(join(tmpdir(), 'klv-emu-faults-'));
  recordFile = join(recordDir, 'exchanges.ndjson');
  emu = await startEmulator({ data: 'empty', rateLimits: 'off', clock: () => new Date(clockMs), record: recordFile });
});

afterAll(async () => {
  await emu.close();
  rmSync(recordDir, { recursive: true, force: true });
});

beforeEach(async () => {
  // The clock only moves forward: going back would put a later test inside an earlier storm.
  await admin('POST', '/_emulator/reset');
  // Back to the defaults; counts are cumulative, so tests compare before and after.
  await admin('POST', '/_emulator/faults', { rate: 0, kinds: ['500', '502', '503', 'drop'], slowMs: 1500, stormMs: 2000, jobFailRate: 0 });
  writeFileSync(recordFile, '');
});

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(emu.url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

async function injected(): Promise<Record<string, number>> {
  return (await admin('GET', '/_emulator/faults')).body.injected;
}

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = JSON_HEADERS) {
  const res = await fetch(emu.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as any };
}

function createProfile(email: string) {
  return api('POST', '/api/profiles', { data: { type: 'profile', attributes: { email } } });
}

function profileEmails(): string[] {
  return [...emu.store.collection('profile').values()].map((p) => String(p.attributes.email)).sort();
}

/** A request the server answers without a response: fetch rejects with a socket error. */
async function expectNoResponse(request: Promise<unknown>) {
  const err = await request.then(
    () => null,
    (e: unknown) => e as Error,
  );
  expect(err, 'the request got a response').not.toBeNull();
  expect(String(err!.cause ?? err)).toMatch(/other side closed|ECONNRESET|socket/i);
}

describe('status faults and drops', () => {
  it('answers 500, 502, 503 in turn, each a JSON:API error saying it was injected; nothing changes', async () => {
    await admin('POST', '/_emulator/faults', { rate: 1, kinds: ['500', '502', '503'] });
    const before = await injected();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await createProfile(`status${i}@example.com`);
      statuses.push(r.status);
      expect(r.body.errors[0].detail).toContain('Injected fault');
    }
    expect(statuses).toEqual([500, 502, 503, 500, 502, 503]);
    expect(profileEmails()).toEqual([]);
    const after = await injected();
    expect(after['500'] - before['500']).toBe(2);
    expect(after['503'] - before['503']).toBe(2);
  });

  it('drop: no response and nothing changes', async () => {
    await admin('POST', '/_emulator/faults', { rate: 1, kinds: ['drop'] });
    await expectNoResponse(createProfile('dropped@example.com'));
    expect(profileEmails()).toEqual([]);
    expect(readFileSync(recordFile, 'utf8')).toBe('');
  });

  it('drop-after: the account changes, the client gets no response, the recording says dropped', async () => {
    await admin('POST', '/_emulator/faults', { rate: 1, kinds: ['drop-after'] });
    const before = await injected();
    await expectNoResponse(createProfile('applied@example.com'));
    expect(profileEmails()).toEqual(['applied@example.com']);
    expect((await injected())['drop-after'] - before['drop-after']).toBe(1);
    const [exchange, ...rest] = readFileSync(recordFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(rest).toEqual([]);
    expect(exchange).toMatchObject({ operationId: 'create_profile', status: 201, dropped: true });
    // The emulator goes on answering.
    await admin('POST', '/_emulator/faults', { rate: 0 });
    expect((await api('GET', '/api/profiles', undefined, HEADERS)).status).toBe(200);
  });
});

describe('slow', () => {
  it('handles the request, then answers after at least slowMs', async () => {
    const slowMs = 300;
    await admin('POST', '/_emulator/faults', { rate: 1, kinds: ['slow'], slowMs });
    const started = performance.now();
    const r = await createProfile('slow@example.com');
    const elapsed = performance.now() - started;
    expect(r.status).toBe(201);
    // Timers never fire early; the 1 ms is performance.now()'s rounding against the timer's.
    expect(elapsed).toBeGreaterThanOrEqual(slowMs - 1);
    expect(elapsed).toBeLessThan(slowMs + 10_000);
    expect(profileEmails()).toEqual(['slow@example.com']);
  });

  it('survives a client that gave up before the delayed response', async () => {
    await admin('POST', '/_emulator/faults', { rate: 1, kinds: ['slow'], slowMs: 1_000 });
    const before = (await injected()).slow;
    const abort = new AbortController();
    const abandoned = fetch(emu.url + '/api/profiles', { headers: HEADERS, signal: abort.signal }).catch((e: unknown) => e);
    // Give up once the emulator holds the response back.
    const deadline = Date.now() + 10_000;
    while ((await injected()).slow === before) {
      if (Date.now() > deadline) throw new Error('the emulator never received the request');
    }
    abort.abort();
    expect(await abandoned).toMatchObject({ name: 'AbortError' });
    // Same slowMs, started later: its timer fires after the abandoned one, so once this answers
    // the emulator has already tried to answer the client that left.
    const later = await api('GET', '/api/profiles', undefined, HEADERS);
    expect(later.status).toBe(200);
    await admin('POST', '/_emulator/faults', { rate: 0 });
    expect((await api('GET', '/api/profiles', undefined, HEADERS)).status).toBe(200);
  });
});

describe('429 storms (the emulator clock)', () => {
  it('answers every /api request 429 with Retry-After counting down, any key and endpoint, then ends', async () => {
    await admin('POST', '/_emulator/faults', { rate: 1, kinds: ['429'], stormMs: 2_500 });
    const before = await injected();
    const first = await api('GET', '/api/profiles', undefined, HEADERS);
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('3');
    expect(first.body.errors[0]).toMatchObject({ status: 429, code: 'throttled', title: 'Request was throttled.' });
    expect(first.body.errors[0].detail).toMatch(/injected 429 storm/);
    // No more draws needed: rate 0 does not end the storm.
    await admin('POST', '/_emulator/faults', { rate: 0 });
    clockMs += 1_600;
    const other = await api('POST', '/api/profiles', { data: { type: 'profile', attributes: { email: 'storm@example.com' } } }, { ...JSON_HEADERS, authorization: `Klaviyo-API-Key ${OTHER_KEY}` });
    expect(other.status).toBe(429);
    expect(other.headers.get('retry-after')).toBe('1');
    expect(profileEmails()).toEqual([]);
    clockMs += 899;
    expect((await api('GET', '/api/lists', undefined, HEADERS)).headers.get('retry-after')).toBe('1');
    clockMs += 1;
    expect((await api('GET', '/api/lists', undefined, HEADERS)).status).toBe(200);
    const after = await injected();
    expect(after['429'] - before['429']).toBe(1);
    expect(after.throttled - before.throttled).toBe(2);
  });

  it('DELETE /_emulator/storm ends a storm under way at once', async () => {
    await admin('POST', '/_emulator/faults', { rate: 1, kinds: ['429'], stormMs: 60_000 });
    expect((await api('GET', '/api/lists', undefined, HEADERS)).status).toBe(429);
    await admin('POST', '/_emulator/faults', { rate: 0 });
    expect((await api('GET', '/api/lists', undefined, HEADERS)).status).toBe(429);
    expect((await admin('DELETE', '/_emulator/storm')).status).toBe(200);
    expect((await api('GET', '/api/lists', undefined, HEADERS)).status).toBe(200);
  });

  it('leaves the admin endpoints alone during a storm', async () => {
    await admin('POST', '/_emulator/faults', { rate: 1, kinds: ['429'], stormMs: 60_000 });
    expect((await api('GET', '/api/lists', undefined, HEADERS)).status).toBe(429);
    expect((await admin('GET', '/_emulator/requests')).status).toBe(200);
    expect((await admin('POST', '/_emulator/reset')).status).toBe(200);
    expect((await admin('POST', '/_emulator/faults', { rate: 0 })).status).toBe(200);
    clockMs += 60_000;
    expect((await api('GET', '/api/lists', undefined, HEADERS)).status).toBe(200);
  });
});

describe('job faults', () => {
  const bulkJob = (profiles: Array<{ email?: string; id?: string }>) => ({
    data: {
      type: 'profile-bulk-import-job',
      attributes: {
        profiles: {
          data: profiles.map(({ id, email }) => ({ type: 'profile', ...(id ? { id } : {}), attributes: email ? { email } : {} })),
        },
      },
    },
  });
  // The 6th would be an import error (an id nobody has) if it were processed.
  const profiles = [0, 1, 2, 3, 4].map((i) => ({ email: `job${i}@example.com` })).concat([{ id: '01NOSUCHPROFILE0000000000', email: 'job5@example.com' }, { email: 'job6@example.com' }]);

  async function runJob(): Promise<{ id: string; attributes: any }> {
    const created = await api('POST', '/api/profile-bulk-import-jobs', bulkJob(profiles));
    expect(created.status).toBe(202);
    const id = created.body.data.id as string;
    for (let polls = 0; polls < 5; polls++) {
      const job = await api('GET', `/api/profile-bulk-import-jobs/${id}`, undefined, HEADERS);
      if (job.body.data.attributes.status !== 'queued' && job.body.data.attributes.status !== 'processing') return { id, attributes: job.body.data.attributes };
    }
    throw new Error('the job never ended');
  }

  it('a cancelled job imports exactly the first half, says so, and reports no import errors', async () => {
    await admin('POST', '/_emulator/faults', { jobFailRate: 1 });
    const before = await injected();
    const job = await runJob();
    expect(job.attributes).toMatchObject({ status: 'cancelled', total_count: 7, completed_count: 3, failed_count: 0 });
    expect(profileEmails()).toEqual(['job0@example.com', 'job1@example.com', 'job2@example.com']);
    const errors = await api('GET', `/api/profile-bulk-import-jobs/${job.id}/import-errors`, undefined, HEADERS);
    expect(errors.body.data).toEqual([]);
    const imported = await api('GET', `/api/profile-bulk-import-jobs/${job.id}/relationships/profiles`, undefined, HEADERS);
    expect(imported.body.data).toHaveLength(3);
    expect((await injected())['job-cancelled'] - before['job-cancelled']).toBe(1);
  });

  it('without job faults the same job completes with every profile and its import error', async () => {
    const job = await runJob();
    expect(job.attributes).toMatchObject({ status: 'complete', total_count: 7, completed_count: 6, failed_count: 1 });
    expect(profileEmails()).toHaveLength(6);
  });

  it('a refused request does not use up a job draw or count as cancelled', async () => {
    await admin('POST', '/_emulator/faults', { jobFailRate: 1 });
    const before = await injected();
    const refused = await api('POST', '/api/profile-bulk-import-jobs', bulkJob([{ email: 'not an email' }]));
    expect(refused.status).toBe(400);
    expect((await injected())['job-cancelled']).toBe(before['job-cancelled']);
  });
});

describe('GET and POST /_emulator/faults', () => {
  it('reports the settings and every counter', async () => {
    const r = await admin('GET', '/_emulator/faults');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ rate: 0, kinds: ['500', '502', '503', 'drop'], slowMs: 1500, stormMs: 2000, jobFailRate: 0 });
    expect(Object.keys(r.body.injected).sort()).toEqual([...FAULT_KINDS, 'throttled', 'job-cancelled'].sort());
  });

  it('changes only the fields given and answers the full report', async () => {
    const r = await admin('POST', '/_emulator/faults', { slowMs: 25, kinds: 'all' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ rate: 0, kinds: [...FAULT_KINDS], slowMs: 25, stormMs: 2000, jobFailRate: 0 });
    expect(r.body.injected).toBeDefined();
    // The old form still works.
    expect((await admin('POST', '/_emulator/faults', { rate: 0.25 })).body).toMatchObject({ rate: 0.25, slowMs: 25, kinds: [...FAULT_KINDS] });
    expect((await admin('POST', '/_emulator/faults', { jobFailRate: 0.5, stormMs: 10 })).body).toMatchObject({ rate: 0.25, jobFailRate: 0.5, stormMs: 10 });
  });

  it.each([
    [{ rate: 2 }, '"rate"', 'from 0 to 1'],
    [{ rate: '0.5' }, '"rate"', 'from 0 to 1'],
    [{ jobFailRate: -1 }, '"jobFailRate"', 'from 0 to 1'],
    [{ slowMs: 1.5 }, '"slowMs"', 'whole number of milliseconds'],
    [{ stormMs: -10 }, '"stormMs"', 'whole number of milliseconds'],
    [{ kinds: ['500', 'teapot'] }, '"kinds"', "unknown fault kind 'teapot'; allowed: 500, 502, 503, drop, drop-after, slow, 429"],
    [{ kinds: [] }, '"kinds"', 'non-empty list'],
    [{ kinds: '500,drop' }, '"kinds"', 'a list of fault kinds or "all"'],
    [{ rate: 0.1, speed: 3 }, '"speed"', 'allowed: rate, kinds, slowMs, stormMs, jobFailRate'],
    [[0.1], 'JSON object', 'fields not sent keep their values'],
  ])('refuses %j with a 400 naming the field and what it allows; nothing changes', async (body, field, allowed) => {
    const r = await admin('POST', '/_emulator/faults', body);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].detail).toContain(field);
    expect(r.body.errors[0].detail).toContain(allowed);
    expect((await admin('GET', '/_emulator/faults')).body).toMatchObject({ rate: 0, kinds: ['500', '502', '503', 'drop'], slowMs: 1500, stormMs: 2000, jobFailRate: 0 });
  });

  it('lists the faults endpoints in the 404 for an unknown admin endpoint', async () => {
    const r = await admin('GET', '/_emulator/nope');
    expect(r.status).toBe(404);
    expect(r.body.errors[0].detail).toContain('GET|POST /_emulator/faults');
  });
});

describe('klv emulator flags', () => {
  const parse = (options: Record<string, unknown>) => emulatorOptionsFrom(options, process.cwd());
  const usage = (options: Record<string, unknown>): string => {
    try {
      parse(options);
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      return (err as Error).message;
    }
    throw new Error(`accepted ${JSON.stringify(options)}`);
  };

  it('turns the fault flags into emulator options', () => {
    expect(parse({ faults: '0.5', faultKinds: 'all', slowMs: '3000', stormMs: '500', jobFaults: '0.2' })).toMatchObject({
      faults: 0.5, faultKinds: [...FAULT_KINDS], slowMs: 3000, stormMs: 500, jobFailRate: 0.2,
    });
    expect(parse({ faultKinds: '429,drop-after' }).faultKinds).toEqual(['429', 'drop-after']);
    expect(parse({})).toMatchObject({ faults: 0, faultKinds: ['500', '502', '503', 'drop'], slowMs: 1500, stormMs: 2000, jobFailRate: 0 });
  });

  it('refuses bad values, naming the flag and what it allows', () => {
    expect(usage({ faultKinds: '500,teapot' })).toMatch(/--fault-kinds .*'teapot'.*allowed: 500, 502, 503, drop, drop-after, slow, 429/);
    expect(usage({ faultKinds: '' })).toContain('--fault-kinds');
    expect(usage({ slowMs: 'soon' })).toContain('--slow-ms must be a whole number from 0 to 600000');
    expect(usage({ stormMs: '-1' })).toContain('--storm-ms must be a whole number');
    expect(usage({ jobFaults: '1.5' })).toContain('--job-faults must be a fraction from 0 to 1');
    expect(usage({ faults: '' })).toContain('--faults must be a fraction from 0 to 1');
  });

  it('klv emulator exits 2 on a bad --fault-kinds', async () => {
    const r = await runKlv(['emulator', '--port', '0', '--fault-kinds', 'teapot'], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--fault-kinds');
    expect(r.stderr).toContain('drop-after');
  });
});
