/** The interface between the HTTP layer and the endpoint handlers. */
import type { OperationMeta } from '../../klaviyo/api-metadata-types.js';
import type { OperationId } from '../../klaviyo/generated/api-metadata.js';
import type { ParsedQuery } from '../http/query.js';
import type { PageCache } from '../http/paging.js';
import type { AccountStore } from '../store/types.js';

export interface HandlerContext {
  operationId: OperationId;
  op: OperationMeta;
  /** Path parameters by name (`id`, `job_id`), URL-decoded. */
  params: Record<string, string>;
  /** The validated query string. */
  query: ParsedQuery;
  store: AccountStore;
  /** The request URL as the client sent it, made absolute with the emulator's base URL. */
  url: URL;
  /** `http://127.0.0.1:PORT`: prefix of every link the emulator writes. */
  baseUrl: string;
  /** Parsed JSON request body, or null. */
  body: unknown;
  pageCache: PageCache;
  /** Decides which bulk jobs an injected job fault cancels part-way (`jobFailRate`). */
  jobFaults: JobFaults;
  /** The quirks handlers apply themselves (http/quirks.ts); none when absent. */
  quirks?: HandlerQuirks;
}

export interface HandlerQuirks {
  /** `unsorted-pages`: paginated lists come slightly out of order (http/quirk-unsorted.ts). */
  unsortedPages: boolean;
}

/** The part of fault injection handlers see (implemented by http/faults.ts's FaultInjector). */
export interface JobFaults {
  /** Whether the job being created ends `cancelled` part-way; one draw per accepted job. */
  nextJobFails(): boolean;
}

export interface HandlerResult {
  status: number;
  /** JSON:API document; absent for 204. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Quirks the handler applied (they changed this answer), for counting and recording. */
  quirks?: Array<'unsorted-pages'>;
}

export type Handler = (ctx: HandlerContext) => HandlerResult | Promise<HandlerResult>;
