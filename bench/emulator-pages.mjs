#!/usr/bin/env node
/**
 * How long the emulator takes to serve the pages a partitioned profile export asks for, without
 * latency or rate limits: the cost is the emulator's own (filter, sort, generate, render, JSON).
 * An exporter that reads time slices concurrently asks, per slice,
 *   GET /api/profiles?filter=and(greater-than(created,A),less-than(created,B))&sort=created&page[size]=100
 * and then follows links.next; it finds the bounds with sort=created / sort=-created and page[size]=1.
 *
 *   npm run build && node bench/emulator-pages.mjs [--profiles 50000,1000000] [--slices 16]
 *
 * Prints, per account size: the first request (which builds the sorted index), the bound
 * look-ups, the first page of a slice, following pages through links.next (resumed iterators),
 * and a page reached by a cursor the emulator has no iterator for (an arithmetic seek).
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { ROOT, fmtInt } from './lib.mjs';

const SERVER = join(ROOT, 'dist/emulator/server.js');
if (!existsSync(SERVER)) {
  console.error('dist/ is missing: run `npm run build` first.');
  process.exit(2);
}
const { startEmulator } = await import(SERVER);

const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '50000,1000000' },
    slices: { type: 'string', default: '16' },
  },
});
const sizes = values.profiles.split(',').map(Number);
const slices = Number(values.slices);
const HEADERS = { authorization: 'Klaviyo-API-Key pk_bench_emulator_pages', revision: '2026-07-15' };

async function timed(url) {
  const started = performance.now();
  const res = await fetch(url, { headers: HEADERS });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${res.status} for ${url}: ${JSON.stringify(body.errors?.[0])}`);
  return { ms: performance.now() - started, body };
}

const fmt = (ms) => `${ms.toFixed(1)} ms`;

for (const profiles of sizes) {
  const emu = await startEmulator({ profiles, rateLimits: 'off', seed: 1, clock: () => new Date('2026-07-20T12:00:00Z') });
  try {
    const base = `${emu.url}/api/profiles`;
    const first = await timed(`${base}?sort=created&page[size]=1&fields[profile]=created`);
    const last = await timed(`${base}?sort=-created&page[size]=1&fields[profile]=created`);
    const again = await timed(`${base}?sort=created&page[size]=1&fields[profile]=created`);
    const min = Date.parse(first.body.data[0].attributes.created);
    const max = Date.parse(last.body.data[0].attributes.created);
    const step = Math.ceil((max - min + 2000) / slices);
    const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
    const sliceUrl = (k) => {
      const a = min - 1000 + k * step;
      const filter = `and(greater-than(created,${iso(a)}),less-than(created,${iso(a + step + 1000)}))`;
      return `${base}?filter=${encodeURIComponent(filter)}&sort=created&page[size]=100`;
    };
    const firstPages = [];
    const nextPages = [];
    let uncachedNext;
    for (let k = 0; k < Math.min(slices, 4); k++) {
      const p1 = await timed(sliceUrl(k));
      firstPages.push(p1.ms);
      let next = p1.body.links.next;
      for (let n = 0; n < 5 && next; n++) {
        const p = await timed(next);
        nextPages.push(p.ms);
        if (k === 0 && n === 0) {
          // The same cursor again: its iterator was taken, so this one seeks.
          uncachedNext = (await timed(next)).ms;
        }
        next = p.body.links.next;
      }
    }
    const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`profiles ${fmtInt(profiles)}:`);
    console.log(`  sort=created page[size]=1, first request (builds the index): ${fmt(first.ms)}`);
    console.log(`  sort=-created page[size]=1: ${fmt(last.ms)}; sort=created again: ${fmt(again.ms)}`);
    console.log(`  first page of a slice (100 profiles): ${fmt(avg(firstPages))} on average over ${firstPages.length}`);
    console.log(`  following pages via links.next: ${fmt(avg(nextPages))} on average over ${nextPages.length}`);
    console.log(`  a page by a cursor with no cached iterator (seek): ${fmt(uncachedNext)}`);
  } finally {
    await emu.close();
  }
}
