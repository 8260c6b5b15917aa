/**
 * Checks that a value is a well-formed AccountSnapshot before the emulator trusts it, so that a
 * bad `--data FILE` or POST /_emulator/load fails with a message that names the broken field
 * instead of a TypeError deep inside a handler.
 */
import { isPlainObject } from '../../core/json.js';
import type { AccountSnapshot } from './types.js';

const MAX_PROBLEMS = 10;

export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
  constructor(readonly problems: string[]) {
    super(
      `Invalid account snapshot: ${problems.join('; ')}. ` +
        'A snapshot is {account, resources: {type: [resource...]}, listMembers: {listId: {profileId: joinedAt}}, ' +
        'segmentMembers: {...}}, as GET /_emulator/state returns it; fix the field named above and load it again.',
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `the string ${JSON.stringify(value.slice(0, 40))}` : `a ${typeof value}`;
}

class Problems {
  readonly list: string[] = [];
  add(path: string, problem: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push(`${path} ${problem}`);
  }
  get full(): boolean {
    return this.list.length >= MAX_PROBLEMS;
  }
}

function checkIdentifier(value: unknown, path: string, problems: Problems): void {
  if (!isPlainObject(value) || typeof value.type !== 'string' || typeof value.id !== 'string') {
    problems.add(path, `must be a resource identifier {type, id}, got ${describe(value)}`);
  }
}

function checkResource(value: unknown, path: string, expectedType: string, problems: Problems): string | undefined {
  if (!isPlainObject(value)) {
    problems.add(path, `must be an object {type, id, attributes, relationships}, got ${describe(value)}`);
    return undefined;
  }
  if (value.type !== expectedType) problems.add(`${path}.type`, `must be ${JSON.stringify(expectedType)}, got ${describe(value.type)}`);
  if (typeof value.id !== 'string' || value.id === '') problems.add(`${path}.id`, `must be a non-empty string, got ${describe(value.id)}`);
  if (!isPlainObject(value.attributes)) problems.add(`${path}.attributes`, `must be an object, got ${describe(value.attributes)}`);
  if (value.relationships !== undefined) {
    if (!isPlainObject(value.relationships)) {
      problems.add(`${path}.relationships`, `must be an object, got ${describe(value.relationships)}`);
    } else {
      for (const [name, data] of Object.entries(value.relationships)) {
        const at = `${path}.relationships[${JSON.stringify(name)}]`;
        if (data === null) continue;
        if (Array.isArray(data)) data.forEach((item, i) => checkIdentifier(item, `${at}[${i}]`, problems));
        else checkIdentifier(data, at, problems);
      }
    }
  }
  return typeof value.id === 'string' ? value.id : undefined;
}

function checkMembership(
  value: unknown,
  path: string,
  groupType: string,
  groupIds: Set<string>,
  profileIds: Set<string>,
  problems: Problems,
): void {
  if (value === undefined) return;
  if (!isPlainObject(value)) {
    problems.add(path, `must be an object {${groupType}Id: {profileId: joinedAt}}, got ${describe(value)}`);
    return;
  }
  for (const [groupId, members] of Object.entries(value)) {
    const at = `${path}[${JSON.stringify(groupId)}]`;
    if (!groupIds.has(groupId)) problems.add(at, `names no ${groupType} in resources.${groupType}`);
    if (!isPlainObject(members)) {
      problems.add(at, `must be an object {profileId: joinedAt}, got ${describe(members)}`);
      continue;
    }
    for (const [profileId, joinedAt] of Object.entries(members)) {
      if (problems.full) return;
      const memberAt = `${at}[${JSON.stringify(profileId)}]`;
      if (!profileIds.has(profileId)) problems.add(memberAt, 'names no profile in resources.profile');
      if (typeof joinedAt !== 'string' || Number.isNaN(Date.parse(joinedAt))) {
        problems.add(memberAt, `must be an ISO 8601 joined_group_at time, got ${describe(joinedAt)}`);
      }
    }
  }
}

/** Throws SnapshotError (listing up to 10 problems) unless `value` is a usable AccountSnapshot. */
export function validateSnapshot(value: unknown): asserts value is AccountSnapshot {
  const problems = new Problems();
  if (!isPlainObject(value)) throw new SnapshotError([`the snapshot must be a JSON object, got ${describe(value)}`]);

  checkResource(value.account, 'account', 'account', problems);

  const idsByType = new Map<string, Set<string>>();
  if (!isPlainObject(value.resources)) {
    problems.add('resources', `must be an object {type: [resource...]}, got ${describe(value.resources)}`);
  } else {
    for (const [type, list] of Object.entries(value.resources)) {
      const ids = new Set<string>();
      idsByType.set(type, ids);
      if (!Array.isArray(list)) {
        problems.add(`resources[${JSON.stringify(type)}]`, `must be an array of ${type} resources, got ${describe(list)}`);
        continue;
      }
      for (let i = 0; i < list.length && !problems.full; i++) {
        const at = `resources[${JSON.stringify(type)}][${i}]`;
        const id = checkResource(list[i], at, type, problems);
        if (id === undefined) continue;
        if (ids.has(id)) problems.add(`${at}.id`, `repeats the ${type} id ${JSON.stringify(id)}`);
        ids.add(id);
      }
    }
  }

  const profiles = idsByType.get('profile') ?? new Set<string>();
  checkMembership(value.listMembers, 'listMembers', 'list', idsByType.get('list') ?? new Set(), profiles, problems);
  checkMembership(value.segmentMembers, 'segmentMembers', 'segment', idsByType.get('segment') ?? new Set(), profiles, problems);

  checkPendingConfirmations(value.pendingConfirmations, idsByType.get('list') ?? new Set(), profiles, problems);

  if (problems.list.length > 0) throw new SnapshotError(problems.list);
}

function checkPendingConfirmations(value: unknown, listIds: Set<string>, profileIds: Set<string>, problems: Problems): void {
  if (value === undefined) return;
  if (!isPlainObject(value)) {
    problems.add('pendingConfirmations', `must be an object {listId: {profileId: {requestedAt, channels}}}, got ${describe(value)}`);
    return;
  }
  for (const [listId, pending] of Object.entries(value)) {
    const at = `pendingConfirmations[${JSON.stringify(listId)}]`;
    if (!listIds.has(listId)) problems.add(at, 'names no list in resources.list');
    if (!isPlainObject(pending)) {
      problems.add(at, `must be an object {profileId: {requestedAt, channels}}, got ${describe(pending)}`);
      continue;
    }
    for (const [profileId, entry] of Object.entries(pending)) {
      if (problems.full) return;
      const entryAt = `${at}[${JSON.stringify(profileId)}]`;
      if (!profileIds.has(profileId)) problems.add(entryAt, 'names no profile in resources.profile');
      if (!isPlainObject(entry) || typeof entry.requestedAt !== 'string' || Number.isNaN(Date.parse(entry.requestedAt)) || !Array.isArray(entry.channels)) {
        problems.add(entryAt, `must be {requestedAt: ISO 8601 time, channels: [...]}, got ${describe(entry)}`);
      }
    }
  }
}
