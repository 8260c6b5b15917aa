import { describe, it, expect } from 'vitest';
import { allObjects } from '../../src/objects/registry.js';

describe('every object\'s declared operations', () => {
  it('are exactly the operations it has import handlers for, each handler naming its own operation', () => {
    for (const def of allObjects()) {
      expect([...def.operations].sort(), def.name).toEqual(Object.keys(def.write ?? {}).sort());
      for (const [op, handler] of Object.entries(def.write ?? {})) {
        expect(handler!.operation, `${def.name}.${op}`).toBe(op);
        expect(handler!.maxBatchSize, `${def.name}.${op}`).toBeGreaterThanOrEqual(1);
        expect(handler!.description.length, `${def.name}.${op}`).toBeGreaterThan(0);
      }
    }
  });

  it('require only columns the object has', () => {
    for (const def of allObjects()) {
      const names = new Set(def.columns.map((c) => c.name));
      for (const handler of Object.values(def.write ?? {})) {
        for (const req of handler!.requiredColumns) for (const c of [req].flat()) expect(names.has(c), `${def.name}: ${c}`).toBe(true);
      }
    }
  });
});
