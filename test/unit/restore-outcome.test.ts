// What an interrupted restore tells the operator about each namespace (src/engine/restore-outcome.ts):
// every namespace named once, under its state, with the counts that explain it.
import { describe, expect, it } from 'vitest';
import { describeOutcomes } from '../../src/engine/restore-outcome.js';

describe('describeOutcomes', () => {
  it('all new and dropped again: the destination is as it was', () => {
    expect(describeOutcomes([{ namespace: 'a.x', state: 'dropped' }, { namespace: 'a.y', state: 'dropped' }])).toBe(
      'the destination is as it was: the namespaces it had created were dropped again (a.x, a.y)',
    );
  });

  it('names each state with its counts', () => {
    const text = describeOutcomes([
      { namespace: 'a.new', state: 'dropped' },
      { namespace: 'a.stuck', state: 'not-dropped' },
      { namespace: 'a.half', state: 'partial', documents: 40, expected: 100, before: 7 },
      { namespace: 'a.done', state: 'restored', documents: 100, expected: 100, before: 0 },
      { namespace: 'a.later', state: 'unchanged', documents: 5, expected: 60, before: 5 },
      { namespace: 'a.replayed', state: 'changed', documents: 12, before: 3 },
      { namespace: 'a.lost', state: 'unknown', before: 2 },
    ]);
    expect(text.split('; ')).toEqual([
      'dropped again (they did not exist before): a.new',
      'NOT dropped (dropping failed), may hold part of the backup: a.stuck',
      'partly restored: a.half (40 documents, 100 when complete, 7 before)',
      'changed, possibly not completely restored: a.replayed (12 documents, 3 before)',
      'restored completely: a.done (100 documents)',
      'unchanged: a.later (5 documents, as before)',
      'state unknown (counting failed): a.lost',
    ]);
  });

  it('nothing to name: nothing had been written', () => {
    expect(describeOutcomes([])).toBe('nothing had been written to the destination');
  });
});
