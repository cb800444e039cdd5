import { describe, expect, it } from 'vitest';
import { toFinishReason } from './finish-reason';

describe('toFinishReason', () => {
  it.each<[string | undefined, boolean, string | null]>([
    [undefined, false, null],
    [undefined, true, null],
    ['STOP', false, 'stop'],
    ['STOP', true, 'tool_calls'],
    ['MAX_TOKENS', false, 'length'],
    ['MAX_TOKENS', true, 'length'],
    ['SAFETY', false, 'content_filter'],
    ['RECITATION', false, 'content_filter'],
    ['BLOCKLIST', false, 'content_filter'],
    ['PROHIBITED_CONTENT', false, 'content_filter'],
    ['SPII', false, 'content_filter'],
    ['IMAGE_SAFETY', false, 'content_filter'],
    ['IMAGE_PROHIBITED_CONTENT', true, 'content_filter'],
    ['LANGUAGE', false, 'stop'],
    ['OTHER', false, 'stop'],
    ['MALFORMED_FUNCTION_CALL', false, 'stop'],
    ['FINISH_REASON_UNSPECIFIED', false, 'stop'],
    ['SOMETHING_NEW', true, 'tool_calls'],
  ])('%s (called a function: %s) → %s', (reason, called, expected) => {
    expect(toFinishReason(reason, called)).toBe(expected);
  });
});
