import { describe, expect, it } from 'vitest';
import { strictNotes } from './strict-notes';

describe('strictNotes', () => {
  it('turns the first recorded change into a 400 naming it', () => {
    const notes = strictNotes('claude');
    expect(() => notes.dropped.push('temperature', 'seed')).toThrow(
      expect.objectContaining({ status: 400, param: 'temperature', code: 'strict_adaptation_refused', message: expect.stringContaining("model 'claude' needs these changes to the request: drop temperature, seed") }),
    );
    expect(() => notes.adapted.push('temperature=1')).toThrow(expect.objectContaining({ param: 'temperature', message: expect.stringContaining('change temperature=1') }));
    expect(() => notes.dropped.push('stop[1]')).toThrow(expect.objectContaining({ param: 'stop' }));
  });

  it('lets a translation that changes nothing through', () => {
    const notes = strictNotes('m');
    expect(notes.dropped.push(...[])).toBe(0);
    expect(notes.dropped.length).toBe(0);
    expect(notes.dropped.join(', ')).toBe('');
    expect(notes.adapted.filter(() => true)).toEqual([]);
  });
});
