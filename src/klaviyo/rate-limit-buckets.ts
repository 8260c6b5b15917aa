/**
 * Which Klaviyo rate-limit bucket a request counts against. Klaviyo counts per endpoint, and
 * some parameter values (profile_count, predictive_analytics, include=lists) move a request to
 * a slower tier counted on its own. Shared by the client's governor and the emulator's limiter
 * so both sides agree on the buckets.
 */
import type { OperationMeta, RateLimitMeta } from './api-metadata-types.js';
import { OPERATIONS } from './generated/api-metadata.js';

export interface RateLimitBucket {
  /** `get_profiles`, or `get_list[additional-fields[list]=profile_count]` for a tier. */
  key: string;
  limit: RateLimitMeta;
}

type QueryLike = URLSearchParams | Record<string, string | number | boolean | string[] | undefined>;

function paramValues(query: QueryLike | undefined, name: string): string[] {
  if (!query) return [];
  const raw = query instanceof URLSearchParams ? query.getAll(name) : [query[name]].flat();
  return raw
    .filter((v) => v !== undefined)
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim());
}

export function rateLimitBucket(operationId: string, query?: QueryLike): RateLimitBucket | undefined {
  const op = (OPERATIONS as Record<string, OperationMeta | undefined>)[operationId];
  if (!op) return undefined;
  // When several tiers apply, the slowest one governs.
  let chosen: RateLimitBucket = { key: operationId, limit: op.rateLimit };
  for (const tier of op.rateLimitTiers ?? []) {
    if (!paramValues(query, tier.parameter).includes(tier.value)) continue;
    const candidate = { key: `${operationId}[${tier.parameter}=${tier.value}]`, limit: tier };
    if ((candidate.limit.steady ?? Infinity) < (chosen.limit.steady ?? Infinity)) chosen = candidate;
  }
  return { key: chosen.key, limit: { burst: chosen.limit.burst, steady: chosen.limit.steady, daily: chosen.limit.daily } };
}

/** The limits of a bucket key made by rateLimitBucket. */
export function limitsForBucketKey(key: string): RateLimitMeta | undefined {
  const m = /^([^[]+)(?:\[([^=]+)=(.*)\])?$/.exec(key);
  if (!m) return undefined;
  const [, operationId, parameter, value] = m;
  const query = parameter ? { [parameter]: value } : undefined;
  return rateLimitBucket(operationId, query)?.limit;
}
