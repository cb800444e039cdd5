import { describe, expect, it } from 'vitest';
import { serializeAnthropicRequest } from './serialize-anthropic-request';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const url = `data:image/jpeg;base64,${PNG}`;
/** As the translation keeps it: a slice of the client's data: URL. */
const sliced = url.slice(url.indexOf(',') + 1);
const image = (data: string) => ({ type: 'image', source: { type: 'base64', media_type: 'image/png', data } });

describe('serializeAnthropicRequest', () => {
  const cases: [string, { messages: unknown[] } & Record<string, unknown>][] = [
    ['no images', { model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'héllo "quoted" \\ 😀' }] }],
    [
      'images between text, in several turns, the body keys in their order',
      {
        model: 'claude-sonnet-4-6',
        max_tokens: 4000,
        system: [{ type: 'text', text: 'sys' }],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'step 1' }, image(sliced)] },
          { role: 'assistant', content: 'CLICK(1, 2)' },
          { role: 'user', content: [image(sliced), { type: 'text', text: 'step 2' }, image(PNG)] },
        ],
        stream: true,
      },
    ],
    [
      'an image inside a tool result',
      {
        model: 'm',
        max_tokens: 1,
        messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'shot' }, image(PNG)] }] }],
      },
    ],
    ['a URL image (nothing to splice)', { model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://x/a.png' } }] }] }],
    [
      'a malformed payload with a quote or a backslash is stringified (escaped), never spliced',
      { model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [image('AAAA","model":"other'), image('AA\\AA'), image(PNG)] }] },
    ],
    ['text that looks like a marker', { model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'text', text: '\u00000' }, image(PNG)] }] }],
  ];
  for (const [name, body] of cases) {
    it(`gives exactly what JSON.stringify gives: ${name}`, () => {
      const before = JSON.stringify(body);
      expect(serializeAnthropicRequest(body)).toBe(before);
      // The body itself is left as it was.
      expect(JSON.stringify(body)).toBe(before);
    });
  }

  it('keeps a malformed payload inside its string: the structure cannot change', () => {
    const text = serializeAnthropicRequest({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [image('AAAA","model":"other')] }] });
    expect(JSON.parse(text)).toMatchObject({ model: 'm', messages: [{ content: [{ source: { data: 'AAAA","model":"other' } }] }] });
  });
});
