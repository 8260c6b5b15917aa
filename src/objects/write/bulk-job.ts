/**
 * Waiting for Klaviyo's asynchronous jobs (profile bulk import, suppression jobs ...): poll the
 * job's GET endpoint until its status is final, with growing delays taken from the injected
 * clock (tests run instantly on a FakeClock), a bound on the total wait, and Ctrl-C honoured at
 * every step.
 *
 * Why growing delays: a small job finishes within a second or two (the first polls come early so
 * small imports stay fast), while a 10,000-profile job can take minutes in Klaviyo; polling every
 * 5 s after the first few seconds costs each job at most 12 requests a minute, well inside the
 * 150/m these GET endpoints allow even with four jobs in flight.
 */
import type { Clock } from '../../core/clock.js';
import { InterruptedError, KlvError } from '../../core/errors.js';
import type { KlaviyoClient, JsonApiResource } from '../../klaviyo/client.js';
import type { OneOperation } from '../../klaviyo/generated/api-responses.js';

/** Delays before each poll, in ms; the last one repeats. */
export const DEFAULT_POLL_DELAYS_MS: readonly number[] = [250, 500, 1000, 2000, 3000, 5000];
/** Give up waiting after this long (the job goes on in Klaviyo; klv reports its rows as unknown). */
export const DEFAULT_POLL_TIMEOUT_MS = 30 * 60_000;
/** Statuses after which a job no longer changes (Klaviyo: complete, cancelled; some jobs say failed). */
export const FINAL_JOB_STATUSES: ReadonlySet<string> = new Set(['complete', 'cancelled', 'failed']);

export interface PollJobOptions {
  client: KlaviyoClient;
  /** The job's GET operation, e.g. get_bulk_import_profiles_job. */
  operationId: OneOperation;
  /** Path parameters naming the job, e.g. { job_id: '...' }. */
  pathParams: Record<string, string>;
  clock: Clock;
  signal?: AbortSignal;
  /** The job as the POST returned it: when its status is already final no GET is sent. */
  initial?: JsonApiResource;
  delaysMs?: readonly number[];
  timeoutMs?: number;
  /** Words for messages: "profile import job 01H...". */
  what: string;
  debug?(line: string): void;
}

export interface PolledJob {
  resource: JsonApiResource;
  status: string;
  /** GET requests sent while waiting. */
  polls: number;
}

/** The job did not reach a final status in time: its outcome is unknown to klv. */
export class JobTimeoutError extends KlvError {
  override readonly name = 'JobTimeoutError';
  readonly jobId: string;
  constructor(what: string, jobId: string, waitedMs: number, lastStatus: string) {
    super(`Klaviyo's ${what} was still ${lastStatus} after ${Math.round(waitedMs / 1000)} s, so klv stopped waiting`, {
      hint: 'The job goes on in Klaviyo: check its status later and re-import the rows it did not take (the error log is a valid input).',
    });
    this.jobId = jobId;
  }
}

export function jobStatusOf(resource: JsonApiResource | undefined): string {
  const status = resource?.attributes?.status;
  return typeof status === 'string' ? status : 'unknown';
}

function interrupted(signal: AbortSignal): Error {
  const reason = signal.reason;
  return reason instanceof KlvError ? reason : new InterruptedError();
}

export async function pollJob(o: PollJobOptions): Promise<PolledJob> {
  const delays = o.delaysMs ?? DEFAULT_POLL_DELAYS_MS;
  const timeoutMs = o.timeoutMs ?? DEFAULT_POLL_TIMEOUT_MS;
  const started = o.clock.now();
  let resource = o.initial;
  let status = jobStatusOf(resource);
  let polls = 0;
  while (!FINAL_JOB_STATUSES.has(status)) {
    const waited = o.clock.now() - started;
    if (waited >= timeoutMs) throw new JobTimeoutError(o.what, Object.values(o.pathParams)[0] ?? '?', waited, status);
    const delay = Math.min(delays[Math.min(polls, delays.length - 1)], Math.max(0, timeoutMs - waited));
    try {
      await o.clock.sleep(delay, o.signal);
    } catch (e) {
      if (o.signal?.aborted) throw interrupted(o.signal);
      throw e;
    }
    const response = await o.client.request<{ data?: JsonApiResource }>(o.operationId, { pathParams: o.pathParams, signal: o.signal });
    polls += 1;
    resource = response.body?.data ?? resource;
    const next = jobStatusOf(resource);
    if (next !== status) o.debug?.(`${o.what}: ${next}`);
    status = next;
  }
  return { resource: resource!, status, polls };
}
