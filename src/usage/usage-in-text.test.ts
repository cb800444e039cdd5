import { describe, expect, it } from 'vitest';
import { lastUsageIn, splitEvents, stripUsageEvent } from './usage-in-text';

const usageChunk = (u: object) => `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":${JSON.stringify(u)}}\n\n`;
const contentChunk = (text: string) => `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":${JSON.stringify(text)}},"finish_reason":null}],"usage":null}\n\n`;
const DONE = 'data: [DONE]\n\n';

describe('lastUsageIn', () => {
  const cases: [name: string, text: string, expected: ReturnType<typeof lastUsageIn>][] = [
    ['a JSON body', '{"id":"x","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }],
    [
      'cached tokens kept, other details dropped',
      '{"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2}}}',
      { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 4 } },
    ],
    ['spaces as Python writes JSON', '{"usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}', { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 }],
    ['the last of a stream wins over "usage":null chunks', contentChunk('hi') + usageChunk({ prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 }) + DONE, { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 }],
    ['only "usage":null', contentChunk('hi') + DONE, null],
    ['no usage at all', '{"id":"x"}', null],
    ['cut off inside the object', '{"usage":{"prompt_tokens":10,"completion_', null],
    ['not usage-shaped', '{"usage":{"foo":1}}', null],
    ['a content text that mentions usage (escaped quotes) is not usage', '{"content":"say \\"usage\\":{ now"}', null],
    ['negative counts become 0', '{"usage":{"prompt_tokens":-1,"completion_tokens":2,"total_tokens":1}}', { prompt_tokens: 0, completion_tokens: 2, total_tokens: 1 }],
  ];
  it.each(cases)('%s', (_name, text, expected) => expect(lastUsageIn(text)).toEqual(expected));
});

describe('splitEvents', () => {
  const cases: [name: string, text: string, complete: string, rest: string][] = [
    ['whole events', 'data: a\n\ndata: b\n\n', 'data: a\n\ndata: b\n\n', ''],
    ['a partial event kept back', 'data: a\n\ndata: b', 'data: a\n\n', 'data: b'],
    ['nothing complete yet', 'data: a\n', '', 'data: a\n'],
    ['CRLF events', 'data: a\r\n\r\ndata: b', 'data: a\r\n\r\n', 'data: b'],
    ['empty', '', '', ''],
  ];
  it.each(cases)('%s', (_name, text, complete, rest) => expect(splitEvents(text)).toEqual({ complete, rest }));
});

describe('stripUsageEvent', () => {
  const u = { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 };
  const cases: [name: string, events: string, text: string, usage: object | null][] = [
    ['the usage chunk between content and [DONE]', contentChunk('a') + usageChunk(u) + DONE, contentChunk('a') + DONE, u],
    ['the usage chunk alone', usageChunk(u), '', u],
    ['the usage chunk first in the text', usageChunk(u) + DONE, DONE, u],
    ['CRLF events', (contentChunk('a') + usageChunk(u) + DONE).replace(/\n/g, '\r\n'), (contentChunk('a') + DONE).replace(/\n/g, '\r\n'), u],
    ['content only: unchanged', contentChunk('a') + contentChunk('b'), contentChunk('a') + contentChunk('b'), null],
    ['an empty choices list without usage is kept', 'data: {"choices":[],"usage":null}\n\n', 'data: {"choices":[],"usage":null}\n\n', null],
  ];
  it.each(cases)('%s', (_name, events, text, usage) => expect(stripUsageEvent(events)).toEqual({ text, usage }));
});
