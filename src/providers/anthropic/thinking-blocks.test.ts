import { describe, expect, it } from 'vitest';
import type { ToolCall } from '../../openai/types';
import { asThinkingBlock, thinkingBlocksOf, thinkingExtraContent } from './thinking-blocks';

const call = (extra_content?: unknown): ToolCall =>
  ({ id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '{}' }, ...(extra_content === undefined ? {} : { extra_content }) }) as ToolCall;

describe('thinking blocks on tool calls', () => {
  it('carries blocks in extra_content.anthropic, or nothing', () => {
    expect(thinkingExtraContent([])).toEqual({});
    expect(thinkingExtraContent([{ type: 'redacted_thinking', data: 'd' }])).toEqual({ extra_content: { anthropic: { thinking_blocks: [{ type: 'redacted_thinking', data: 'd' }] } } });
  });

  it.each([
    [{ type: 'thinking', thinking: 't', signature: 's', citations: null }, { type: 'thinking', thinking: 't', signature: 's' }],
    [{ type: 'redacted_thinking', data: 'd' }, { type: 'redacted_thinking', data: 'd' }],
    [{ type: 'thinking', thinking: 't' }, null],
    [{ type: 'text', text: 't' }, null],
  ])('asThinkingBlock(%j) → %j', (block, expected) => {
    expect(asThinkingBlock(block)).toEqual(expected);
  });

  it.each([
    [undefined, []],
    [null, []],
    [{ google: { thought_signature: 'x' } }, []],
    [{ anthropic: {} }, []],
    [{ anthropic: { thinking_blocks: [{ type: 'thinking', thinking: 't', signature: 's' }, { type: 'redacted_thinking', data: 'd' }] } }, [{ type: 'thinking', thinking: 't', signature: 's' }, { type: 'redacted_thinking', data: 'd' }]],
  ])('reads %j', (extra, expected) => {
    expect(thinkingBlocksOf(call(extra), 'messages[1].tool_calls[0]')).toEqual(expected);
  });

  it.each([
    [{ anthropic: { thinking_blocks: 'x' } }, 'messages[1].tool_calls[0].extra_content.anthropic.thinking_blocks'],
    [{ anthropic: { thinking_blocks: [{ type: 'thinking', thinking: 't' }] } }, 'messages[1].tool_calls[0].extra_content.anthropic.thinking_blocks[0]'],
    [{ anthropic: { thinking_blocks: [null] } }, 'messages[1].tool_calls[0].extra_content.anthropic.thinking_blocks[0]'],
  ])('a malformed %j is a 400 naming %s', (extra, param) => {
    expect(() => thinkingBlocksOf(call(extra), 'messages[1].tool_calls[0]')).toThrow(expect.objectContaining({ status: 400, param }));
  });
});
