import { describe, expect, it } from 'vitest';
import { FakeClock, systemClock } from '../../src/core/clock.js';
import { ConcurrencyLimiter } from '../../src/klaviyo/concurrency-limiter.js';
import { attemptLine, displayTarget, retryLine, waitLine } from '../../src/klaviyo/journal.js';
import { joinIncluded, nextRequestPath, resourcesOf, type JsonApiResource } from '../../src/klaviyo/json-api.js';
import { checkRequiredQuery, encodeQuery, expandPath } from '../../src/klaviyo/request-url.js';
import { OPERATIONS } from '../../src/klaviyo/generated/api-metadata.js';

describe('encodeQuery', () => {
  it('keeps brackets readable, joins arrays with commas, encodes the filter fully', () => {
    expect(
      encodeQuery({
        'page[size]': 100,
        'fields[profile]': ['email', 'first_name'],
        include: ['lists'],
        filter: "equals(email,'a+b@x.com')",
        skipped: undefined,
      }),
    ).toBe("page[size]=100&fields[profile]=email,first_name&include=lists&filter=equals(email%2C'a%2Bb%40x.com')");
  });

  it('encodes what would break the query string', () => {
    expect(encodeQuery({ 'page[cursor]': 'a&b=c d' })).toBe('page[cursor]=a%26b%3Dc%20d');
  });
});

describe('expandPath and checkRequiredQuery', () => {
  it('encodes path parameters', () => {
    expect(expandPath(OPERATIONS.get_profile, { id: 'a/b c' })).toBe('/api/profiles/a%2Fb%20c');
  });
  it('refuses a missing path parameter', () => {
    expect(() => expandPath(OPERATIONS.get_profile, {})).toThrow("get_profile needs the path parameter 'id'");
  });
  it('refuses a missing required query parameter before sending', () => {
    expect(() => checkRequiredQuery(OPERATIONS.get_campaigns, {})).toThrow("GET /api/campaigns needs the query parameter 'filter'");
    expect(() => checkRequiredQuery(OPERATIONS.get_campaigns, { filter: "equals(messages.channel,'email')" })).not.toThrow();
  });
});

describe('joinIncluded', () => {
  it('joins to-one and to-many relationships, leaving missing ones out', () => {
    const data: JsonApiResource[] = [
      {
        type: 'event',
        id: 'e1',
        relationships: {
          metric: { data: { type: 'metric', id: 'm1' } },
          profile: { data: { type: 'profile', id: 'p-missing' } },
          lists: { data: [{ type: 'list', id: 'l1' }, { type: 'list', id: 'l2' }] },
        },
      },
      { type: 'event', id: 'e2', attributes: {} },
    ];
    const included: JsonApiResource[] = [
      { type: 'metric', id: 'm1', attributes: { name: 'Placed Order' } },
      { type: 'list', id: 'l2', attributes: { name: 'VIP' } },
    ];
    const [e1, e2] = joinIncluded(data, included);
    expect(e1.includedRelationships).toEqual({
      metric: included[0],
      lists: [included[1]],
    });
    expect(e2.includedRelationships).toBeUndefined();
  });

  it('resourcesOf handles a list, one resource or null', () => {
    expect(resourcesOf({ data: [{ type: 'a', id: '1' }] })).toHaveLength(1);
    expect(resourcesOf({ data: { type: 'a', id: '1' } })).toHaveLength(1);
    expect(resourcesOf({ data: null })).toEqual([]);
    expect(resourcesOf(null)).toEqual([]);
  });
});

describe('nextRequestPath', () => {
  it('uses the path and query of a next link', () => {
    expect(nextRequestPath('https://a.klaviyo.com/api/profiles?page%5Bcursor%5D=abc&page%5Bsize%5D=100', 'https://a.klaviyo.com')).toBe(
      '/api/profiles?page%5Bcursor%5D=abc&page%5Bsize%5D=100',
    );
    expect(nextRequestPath('/api/profiles?page[cursor]=x', 'http://127.0.0.1:8787')).toBe('/api/profiles?page[cursor]=x');
  });
  it('ends on a missing link', () => {
    expect(nextRequestPath(null, 'https://a.klaviyo.com')).toBeUndefined();
    expect(nextRequestPath(undefined, 'https://a.klaviyo.com')).toBeUndefined();
  });
  it('refuses a link to another host: it would receive the key', () => {
    expect(() => nextRequestPath('https://evil.example/api/profiles?page[cursor]=x', 'https://a.klaviyo.com')).toThrow(
      /Refusing to follow a pagination link to another host \(evil\.example/,
    );
  });
});

describe('journal lines', () => {
  it('one line per attempt with status, time, remaining and retry number', () => {
    expect(
      attemptLine({ method: 'GET', pathAndQuery: '/api/profiles?page[size]=100&filter=equals(email%2C%27a%40b.c%27)', result: 200, ms: 123.4, remaining: 749, retry: 0 }),
    ).toBe("HTTP GET /api/profiles?page[size]=100&filter=equals(email,'a@b.c') -> 200 123ms remaining=749 retry=0");
    expect(attemptLine({ method: 'POST', pathAndQuery: '/api/profiles', result: 'ECONNRESET', ms: 5, retry: 2 })).toBe(
      'HTTP POST /api/profiles -> ECONNRESET 5ms retry=2',
    );
  });
  it('wait and retry lines', () => {
    expect(waitLine('GET', '/api/profiles', 850, 'burst limit 67/1s')).toBe('HTTP GET /api/profiles waited 850ms for rate limit (burst limit 67/1s)');
    expect(retryLine('GET', '/api/profiles', 1, 1200, '503')).toBe('HTTP GET /api/profiles retry 1 in 1200ms after 503');
  });
  it('shortens very long targets', () => {
    expect(displayTarget(`/api/profiles?page[cursor]=${'x'.repeat(1000)}`)).toHaveLength(400);
  });
});

describe('FakeClock', () => {
  it('wakes sleepers in time order when advanced', async () => {
    const clock = new FakeClock({ start: 0 });
    const woke: string[] = [];
    void clock.sleep(300).then(() => woke.push(`b@${clock.now()}`));
    void clock.sleep(100).then(() => woke.push(`a@${clock.now()}`));
    await clock.advance(99);
    expect(woke).toEqual([]);
    await clock.advance(250);
    expect(woke).toEqual(['a@100', 'b@300']);
    expect(clock.now()).toBe(349);
  });

  it('auto-advances to the earliest sleeper when idle', async () => {
    const clock = new FakeClock({ start: 0, autoAdvance: true });
    await Promise.all([clock.sleep(5_000), clock.sleep(2_000)]);
    expect(clock.now()).toBe(5_000);
    expect(clock.sleeps).toEqual([5_000, 2_000]);
  });

  it('rejects a sleeper when its signal aborts', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    const p = clock.sleep(1_000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(clock.pendingSleepers).toBe(0);
  });

  it('systemClock.sleep rejects at once on an aborted signal', async () => {
    await expect(systemClock.sleep(10_000, AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });
});

describe('ConcurrencyLimiter', () => {
  it('lets N through and queues the rest first come, first served', async () => {
    const limiter = new ConcurrencyLimiter(2);
    const order: number[] = [];
    const r1 = await limiter.acquire();
    const r2 = await limiter.acquire();
    const p3 = limiter.acquire().then((r) => (order.push(3), r));
    const p4 = limiter.acquire().then((r) => (order.push(4), r));
    expect(limiter.active).toBe(2);
    expect(limiter.waiting).toBe(2);
    r1();
    r1(); // releasing twice frees one slot only
    const r3 = await p3;
    expect(order).toEqual([3]);
    r2();
    await p4;
    expect(order).toEqual([3, 4]);
    r3();
    expect(limiter.active).toBe(1);
  });

  it('an aborted waiter leaves the queue', async () => {
    const limiter = new ConcurrencyLimiter(1);
    const release = await limiter.acquire();
    const ac = new AbortController();
    const waiting = limiter.acquire(ac.signal);
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(limiter.waiting).toBe(0);
    release();
    expect(limiter.active).toBe(0);
  });
});
