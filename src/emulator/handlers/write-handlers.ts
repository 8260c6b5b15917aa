/**
 * The emulator's write endpoints for profiles, lists, memberships, consent, suppressions and
 * events and push tokens, by operationId (registered in index.ts). Every one validates its body against the
 * spec's request schema (write-schema.ts) and answers with the spec's status and body.
 */
import { bulkImportHandlers } from './write-bulk-import.js';
import { eventWriteHandlers } from './write-events.js';
import { listWriteHandlers } from './write-lists.js';
import { profileWriteHandlers } from './write-profiles.js';
import { pushTokenHandlers } from './write-push-tokens.js';
import { subscriptionHandlers } from './write-subscriptions.js';
import { suppressionHandlers } from './write-suppressions.js';
import type { Handler } from './types.js';

export const writeHandlers: Record<string, Handler> = {
  ...profileWriteHandlers,
  ...bulkImportHandlers,
  ...listWriteHandlers,
  ...subscriptionHandlers,
  ...suppressionHandlers,
  ...eventWriteHandlers,
  ...pushTokenHandlers,
};
