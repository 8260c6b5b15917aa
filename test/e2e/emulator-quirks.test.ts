/**
 * `klv emulator --quirks ...` as a user runs it: the built CLI in its own process, the quirks
 * seen over real HTTP, and the admin endpoint that reports and changes them.
 * Needs the build (`npm test` runs it first; otherwise `npx tsc -p tsconfig.json`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runKlv } from '../helpers/cli.js';
import { spawnEmulator, type EmulatorProcess } from '../helpers/emulator.js';

const HEADERS = { authorization: 'Klaviyo-API-Key pk_e2e_quirks_0123456789', revision: '2026-07-15' };

describe('klv emulator --quirks html-200=1,unsorted-pages', () => {
  let emu: EmulatorProcess;
  let url: string;
  beforeAll(async () => {
    emu = spawnEmulator(['--port', '0', '--rate-limits', 'off', '--profiles', '60', '--quirks', 'html-200=1,unsorted-pages'], cleanEnv());
    url = await emu.url;
  });
  afterAll(() => emu?.stop());

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('answers every /api request with an HTML page, and counts them', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/api/lists`, { headers: HEADERS });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=UTF-8');
      expect(await res.text()).toMatch(/^<!DOCTYPE html>/);
    }
    const report = await admin('GET', '/_emulator/quirks');
    expect(report.status).toBe(200);
    expect(report.body.quirks).toEqual({ 'html-200': 1, 'unsorted-pages': 1 });
    expect(report.body.injected['html-200']).toBe(3);
    expect(report.body.injected['unsorted-pages']).toBe(0);
  });

  it('POST /_emulator/quirks turns html-200 off: pages come slightly unsorted, every profile once', async () => {
    const changed = await admin('POST', '/_emulator/quirks', { 'html-200': false });
    expect(changed.status).toBe(200);
    expect(changed.body.quirks).toEqual({ 'unsorted-pages': 1 });
    const pages: string[][] = [];
    let next: string | undefined = `${url}/api/profiles?sort=created&page[size]=7&fields[profile]=created`;
    const created = new Map<string, string>();
    while (next) {
      const res = await fetch(next, { headers: HEADERS });
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      pages.push(body.data.map((p: any) => p.id));
      for (const p of body.data) created.set(p.id, p.attributes.created);
      next = body.links.next;
    }
    const ids = pages.flat();
    expect(ids).toHaveLength(60);
    expect(new Set(ids).size).toBe(60);
    // Page 1 ends with a profile created after page 2's first one.
    expect(created.get(pages[0]!.at(-1)!)! > created.get(pages[1]![0]!)!).toBe(true);
    expect((await admin('GET', '/_emulator/quirks')).body.injected['unsorted-pages']).toBeGreaterThan(0);
  });

  it('refuses a bad change with a 400 naming the quirk', async () => {
    const r = await admin('POST', '/_emulator/quirks', { 'html-200': 3 });
    expect(r.status).toBe(400);
    expect(r.body.errors[0].detail).toContain('"html-200"');
  });
});

describe('klv emulator --quirks: usage errors', () => {
  it.each([
    ['teapot', "unknown quirk 'teapot'"],
    ['html-200=2', 'from 0 to 1'],
    ['unsorted-pages=0.5', 'structural quirk'],
  ])('--quirks %s exits 2 naming the valid quirks', async (list, message) => {
    const r = await runKlv(['emulator', '--port', '0', '--quirks', list], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--quirks');
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('archived-flows-hidden');
  });
});
