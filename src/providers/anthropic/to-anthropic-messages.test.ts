import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../openai/errors';
import type { ChatMessage } from '../../openai/types';
import { parseToolArguments, toAnthropicMessages } from './to-anthropic-messages';

// A real 1×1 PNG, and the first bytes of a JFIF JPEG.
const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const JPEG_B64 = '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAEBAQ==';
const MAX = 1024 * 1024;

const png = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_B64 } };
const text = (t: string) => ({ type: 'text', text: t });

describe('toAnthropicMessages', () => {
  const cases: { name: string; input: ChatMessage[]; messages: unknown[]; adapted?: string[]; dropped?: string[] }[] = [
    {
      name: 'an assistant turn with thinking blocks on its tool calls: the first call’s lead the turn, the others precede their tool_use',
      input: [
        { role: 'user', content: 'weather and time?' },
        {
          role: 'assistant',
          content: 'Checking.',
          reasoning_content: 'ignored: the blocks carry it',
          tool_calls: [
            { id: 'a', type: 'function', function: { name: 'weather', arguments: '{}' }, extra_content: { anthropic: { thinking_blocks: [{ type: 'thinking', thinking: 'w', signature: 'S1' }, { type: 'redacted_thinking', data: 'R' }] } } },
            { id: 'b', type: 'function', function: { name: 'time', arguments: '{}' }, extra_content: { anthropic: { thinking_blocks: [{ type: 'thinking', thinking: 't', signature: 'S2' }] } } },
          ],
        } as unknown as ChatMessage,
        { role: 'tool', tool_call_id: 'a', content: 'sunny' },
        { role: 'tool', tool_call_id: 'b', content: 'noon' },
      ],
      messages: [
        { role: 'user', content: [text('weather and time?')] },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'w', signature: 'S1' },
            { type: 'redacted_thinking', data: 'R' },
            text('Checking.'),
            { type: 'tool_use', id: 'a', name: 'weather', input: {} },
            { type: 'thinking', thinking: 't', signature: 'S2' },
            { type: 'tool_use', id: 'b', name: 'time', input: {} },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'a', content: [text('sunny')] }, { type: 'tool_result', tool_use_id: 'b', content: [text('noon')] }] },
      ],
    },
    {
      name: 'a plain user turn',
      input: [{ role: 'user', content: 'hello' }],
      messages: [{ role: 'user', content: [text('hello')] }],
    },
    {
      name: 'only a system message: a user turn is added',
      input: [{ role: 'system', content: 'You are terse.' }],
      messages: [{ role: 'user', content: [text('.')] }],
      adapted: ['messages=user_turn_added'],
    },
    {
      name: 'system and developer messages anywhere leave the conversation, which stays merged',
      input: [
        { role: 'user', content: 'a' },
        { role: 'system', content: 'mid-way rule' },
        { role: 'user', content: 'b' },
        { role: 'developer', content: [{ type: 'text', text: 'dev rule' }] },
        { role: 'assistant', content: 'c' },
      ],
      messages: [
        { role: 'user', content: [text('a'), text('b')] },
        { role: 'assistant', content: [text('c')] },
      ],
    },
    {
      name: 'a conversation opening with the assistant gets a user turn first',
      input: [
        { role: 'system', content: 's' },
        { role: 'assistant', content: 'Hi! How can I help?' },
        { role: 'user', content: 'q' },
      ],
      messages: [
        { role: 'user', content: [text('.')] },
        { role: 'assistant', content: [text('Hi! How can I help?')] },
        { role: 'user', content: [text('q')] },
      ],
      adapted: ['messages=user_turn_added'],
    },
    {
      name: 'consecutive user turns merge, image-only and mixed turns keep part order',
      input: [
        { role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_B64}` } }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'before' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
            { type: 'text', text: 'after' },
          ],
        },
      ],
      messages: [
        {
          role: 'user',
          content: [png, text('before'), { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } }, text('after')],
        },
      ],
    },
    {
      name: 'a PNG labelled image/jpeg is sent as image/png, its base64 untouched',
      input: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/jpeg;base64,${PNG_B64}`, detail: 'high' } }] }],
      messages: [{ role: 'user', content: [png] }],
      dropped: ['messages[].content[].image_url.detail'],
    },
    {
      name: 'a JPEG labelled image/png is sent as image/jpeg',
      input: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${JPEG_B64}` } }] }],
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: JPEG_B64 } }] }],
    },
    {
      name: 'empty and whitespace-only text is left out (Claude rejects it); an empty turn disappears',
      input: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: '' },
        { role: 'user', content: [{ type: 'text', text: '  \n' }, { type: 'text', text: 'x' }] },
      ],
      messages: [{ role: 'user', content: [text('q'), text('x')] }],
    },
    {
      name: 'an assistant turn with text and several tool calls keeps the text first',
      input: [
        { role: 'user', content: 'weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: 'Let me check both.',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
            { id: 'call_3', type: 'function', function: { name: 'clock', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C', name: 'weather' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '25°C' }] },
        { role: 'tool', tool_call_id: 'call_3', content: '' },
      ],
      messages: [
        { role: 'user', content: [text('weather in Paris and Rome?')] },
        {
          role: 'assistant',
          content: [
            text('Let me check both.'),
            { type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'call_2', name: 'weather', input: { city: 'Rome' } },
            { type: 'tool_use', id: 'call_3', name: 'clock', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_1', content: [text('18°C')] },
            { type: 'tool_result', tool_use_id: 'call_2', content: [text('25°C')] },
            { type: 'tool_result', tool_use_id: 'call_3' },
          ],
        },
      ],
    },
    {
      name: 'a tool result with an image (a screenshot tool), then the user: results first, one turn',
      input: [
        { role: 'user', content: 'take a screenshot' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'shot', arguments: '{}' } }] },
        {
          role: 'tool',
          tool_call_id: 'toolu_1',
          content: [
            { type: 'text', text: 'here it is' },
            { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${PNG_B64}` } },
          ],
        },
        { role: 'user', content: 'what do you see?' },
      ],
      messages: [
        { role: 'user', content: [text('take a screenshot')] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'shot', input: {} }] },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [text('here it is'), png] }, text('what do you see?')],
        },
      ],
    },
    {
      name: 'a user turn before tool results in the same merged turn is moved after them',
      input: [
        { role: 'user', content: 'go' },
        { role: 'assistant', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'user', content: 'also this' },
        { role: 'tool', tool_call_id: 't', content: 'done' },
      ],
      messages: [
        { role: 'user', content: [text('go')] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [text('done')] }, text('also this')] },
      ],
    },
    {
      name: 'an earlier refusal is part of what the assistant said; names are dropped',
      input: [
        { role: 'user', content: 'q', name: 'alice' },
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'I cannot help with that.' }] },
        { role: 'user', content: 'ok' },
      ],
      messages: [
        { role: 'user', content: [text('q')] },
        { role: 'assistant', content: [text('I cannot help with that.')] },
        { role: 'user', content: [text('ok')] },
      ],
      dropped: ['messages[].name'],
    },
  ];

  it.each(cases)('$name', ({ input, messages, adapted = [], dropped = [] }) => {
    const out = toAnthropicMessages(input, MAX);
    expect(out.messages).toEqual(messages);
    expect(out.adapted).toEqual(adapted);
    expect(out.dropped).toEqual(dropped);
  });

  const errors: { name: string; input: ChatMessage[]; status: number; param: string }[] = [
    {
      name: 'a data: URL that is not base64',
      input: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: 'data:image/png,raw' } }] }],
      status: 400,
      param: 'messages[0].content[1].image_url.url',
    },
    {
      name: 'a data: URL whose bytes are no image',
      input: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y' }, { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,aGVsbG8gd29ybGQ=' } }] }],
      status: 400,
      param: 'messages[2].content[0].image_url.url',
    },
    {
      name: 'base64 with padding inside, or a character outside the alphabet',
      input: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,iVBO=w0KGgo=` } }, { type: 'image_url', image_url: { url: `data:image/png;base64,iVBORw0K-Ggo=` } }] }],
      status: 400,
      param: 'messages[0].content[0].image_url.url',
    },
    {
      name: 'a character outside the base64 alphabet',
      input: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,iVBORw0K-GgoAAAA` } }] }],
      status: 400,
      param: 'messages[0].content[0].image_url.url',
    },
    {
      name: 'an image URL of another scheme',
      input: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://example.com/a.png' } }] }],
      status: 400,
      param: 'messages[0].content[0].image_url.url',
    },
    {
      name: 'an image over the size limit',
      input: [{ role: 'tool', tool_call_id: 't', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA${'A'.repeat(2_000_000)}` } }] }],
      status: 413,
      param: 'messages[0].content[0].image_url.url',
    },
    {
      name: 'malformed tool-call arguments',
      input: [
        { role: 'user', content: 'x' },
        { role: 'assistant', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }, { id: 'b', type: 'function', function: { name: 'f', arguments: '{"city": "Par' } }] },
      ],
      status: 400,
      param: 'messages[1].tool_calls[1].function.arguments',
    },
    {
      name: 'legacy function messages',
      input: [{ role: 'user', content: 'x' }, { role: 'function', name: 'f', content: '1' }],
      status: 400,
      param: 'messages[1].role',
    },
    {
      name: 'an audio part',
      input: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }],
      status: 400,
      param: 'messages[0].content[0].type',
    },
  ];

  it.each(errors)('rejects $name, naming the path', ({ input, status, param }) => {
    let caught: unknown;
    try {
      toAnthropicMessages(input, MAX);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect((caught as GatewayError).status).toBe(status);
    expect((caught as GatewayError).param).toBe(param);
    expect((caught as GatewayError).message).toContain(param);
  });
});

describe('parseToolArguments', () => {
  it.each([
    ['{"a":1}', { a: 1 }],
    ['', {}],
    ['  ', {}],
    ['{"nested":{"list":[1,"ü"]}}', { nested: { list: [1, 'ü'] } }],
  ])('%j → %j', (args, expected) => {
    expect(parseToolArguments(args, 'p')).toEqual(expected);
  });

  it.each(['[1,2]', '5', 'null', '"text"', '{'])('rejects %j', (args) => {
    expect(() => parseToolArguments(args, 'messages[1].tool_calls[0].function.arguments')).toThrow(/messages\[1\]\.tool_calls\[0\]\.function\.arguments/);
  });
});
