/**
 * Small pieces the template and campaign write handlers share (write-templates.ts,
 * write-campaigns.ts): reading the resource object of a request document that
 * validateRequestBody has already checked, and Klaviyo-shaped refusals at a JSON pointer.
 */
import { invalid, type WriteRefusal } from './write-schema.js';

/** A 400 `invalid` refusal at a pointer into the request body (pointer first: it reads like the body). */
export function refuse(pointer: string, detail: string): WriteRefusal {
  return invalid(detail, pointer);
}

/** The JSON:API resource object of a request document (`body.data`), already shape-checked. */
export function dataOf(body: unknown): { type: string; id?: string; attributes: Record<string, unknown>; relationships?: Record<string, unknown> } {
  const data = (body as { data: Record<string, unknown> }).data;
  return {
    type: data.type as string,
    id: data.id as string | undefined,
    attributes: (data.attributes as Record<string, unknown> | undefined) ?? {},
    relationships: data.relationships as Record<string, unknown> | undefined,
  };
}

/** A PATCH names its resource twice (path and body): they must agree. */
export function checkSameId(bodyId: string | undefined, pathId: string): void {
  if (bodyId !== pathId) {
    throw refuse('/data/id', `The id in the request body ('${bodyId}') does not match the id in the URL ('${pathId}'); send the same id in both.`);
  }
}
