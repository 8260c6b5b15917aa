/**
 * The body of each operation's 2xx answer, as a type: `ResponseOf<'get_profiles'>` is a document
 * whose `data` is a list of resources, `ResponseOf<'get_list'>` one whose `data` is one resource.
 *
 * The shapes come from Klaviyo's spec (scripts/gen-api.mjs sorts the operations into
 * generated/api-responses.ts), and they hold at run time because the client checks every 2xx
 * answer against the same metadata before anyone reads it (response-check.ts): an answer of
 * another shape is a failed attempt, never a body of the wrong type. The check goes as deep as
 * the document's shape, so the attributes stay `Record<string, unknown>`: code that reads one
 * checks its type where it reads it.
 */
import type { OperationId } from './generated/api-metadata.js';
import type { ManyOperation, NoDocumentOperation, OneOperation, OneOrNullOperation } from './generated/api-responses.js';
import type { JsonApiDocument, JsonApiResource } from './json-api.js';

export type ResponseOf<Op extends OperationId> = Op extends ManyOperation
  ? JsonApiDocument<JsonApiResource[]>
  : Op extends OneOperation
    ? JsonApiDocument<JsonApiResource>
    : Op extends OneOrNullOperation
      ? JsonApiDocument<JsonApiResource | null>
      : Op extends NoDocumentOperation
        ? // 202/204: usually no body at all; whatever came is not a document klv reads.
          unknown
        : never;

/**
 * The operations whose answer can be read as `View`: a caller that names the part of the document
 * it reads (`request<{ data: { id: string } }>('create_list')`) gets that view only if the
 * operation's document really has it. A view the document does not have leaves no operation
 * (the operation id argument is refused).
 */
export type OperationAnswering<View> = { [Op in OperationId]: ResponseOf<Op> extends View ? Op : never }[OperationId];
