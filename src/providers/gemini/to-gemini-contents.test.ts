import { describe, expect, it } from 'vitest';
import type { ChatMessage, ImagePart } from '../../openai/types';
import type { RequestNotes } from '../provider';
import { responseObject, SKIP_THOUGHT_SIGNATURE, toGeminiContents, type ContentsOptions } from './to-gemini-contents';
import type { GeminiBlob } from './types';

const img = (url: string): ImagePart => ({ type: 'image_url', image_url: { url } });
const PNG: GeminiBlob = { mimeType: 'image/png', data: 'iVBORw0KGgo=' };
const JPEG: GeminiBlob = { mimeType: 'image/jpeg', data: '/9j/4AAQ' };

function run(messages: ChatMessage[], options: Partial<ContentsOptions> = {}) {
  const notes: RequestNotes = { dropped: [], adapted: [] };
  const result = toGeminiContents(messages, { images: new Map(), systemInstruction: true, thoughtSignatures: false, ...options }, notes);
  return { ...result, notes };
}

const call = (id: string, name: string, args: string, signature?: string) => ({
  id,
  type: 'function' as const,
  function: { name, arguments: args },
  ...(signature ? { extra_content: { google: { thought_signature: signature } } } : {}),
});

describe('toGeminiContents', () => {
  it('maps roles and merges consecutive turns of one role', () => {
    const { contents, systemInstruction } = run([
      { role: 'user', content: 'a' },
      { role: 'user', content: [{ type: 'text', text: 'b' }] },
      { role: 'assistant', content: 'c' },
      { role: 'assistant', content: [{ type: 'text', text: 'd' }, { type: 'refusal', refusal: 'no' }] },
      { role: 'user', content: 'e' },
    ]);
    expect(systemInstruction).toBeUndefined();
    expect(contents).toEqual([
      { role: 'user', parts: [{ text: 'a' }, { text: 'b' }] },
      { role: 'model', parts: [{ text: 'c' }, { text: 'd' }, { text: 'no' }] },
      { role: 'user', parts: [{ text: 'e' }] },
    ]);
  });

  it('gathers every system and developer text, wherever it stands, into systemInstruction', () => {
    const { contents, systemInstruction } = run([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'hi' },
      { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }, { type: 'text', text: 'No emoji.' }] },
      { role: 'system', content: '' },
      { role: 'assistant', content: 'salut' },
    ]);
    expect(systemInstruction).toEqual({ parts: [{ text: 'You are terse.' }, { text: 'Answer in French.' }, { text: 'No emoji.' }] });
    expect(contents).toEqual([
      { role: 'user', parts: [{ text: 'hi' }] },
      { role: 'model', parts: [{ text: 'salut' }] },
    ]);
  });

  it('folds the system text into the first user turn for models without systemInstruction', () => {
    const { contents, systemInstruction, notes } = run(
      [
        { role: 'system', content: 'Rule one.' },
        { role: 'user', content: 'q' },
        { role: 'developer', content: 'Rule two.' },
      ],
      { systemInstruction: false },
    );
    expect(systemInstruction).toBeUndefined();
    expect(contents).toEqual([{ role: 'user', parts: [{ text: 'Rule one.\n\nRule two.' }, { text: 'q' }] }]);
    expect(notes.adapted).toEqual(['system_instruction=first_user_turn']);
  });

  it('opens a user turn for the folded system text when the conversation starts with the model', () => {
    const { contents } = run(
      [
        { role: 'system', content: 'S' },
        { role: 'assistant', content: 'Hello, how can I help?' },
        { role: 'user', content: 'q' },
      ],
      { systemInstruction: false },
    );
    expect(contents).toEqual([
      { role: 'user', parts: [{ text: 'S' }] },
      { role: 'model', parts: [{ text: 'Hello, how can I help?' }] },
      { role: 'user', parts: [{ text: 'q' }] },
    ]);
  });

  it('a system prompt alone still makes a request for a model without systemInstruction', () => {
    expect(run([{ role: 'system', content: 'S' }], { systemInstruction: false }).contents).toEqual([{ role: 'user', parts: [{ text: 'S' }] }]);
  });

  it('refuses a conversation with nothing to send', () => {
    expect(() => run([{ role: 'system', content: 'S' }, { role: 'user', content: '' }])).toThrowError(
      expect.objectContaining({ status: 400, param: 'messages' }),
    );
  });

  it('keeps several images in order with the text around them', () => {
    const a = img('data:image/jpeg;base64,AAAA');
    const b = img('https://example.com/b.jpg');
    const { contents } = run(
      [{ role: 'user', content: [{ type: 'text', text: 'first' }, a, { type: 'text', text: 'then' }, b, { type: 'text', text: '' }] }],
      { images: new Map([[a, PNG], [b, JPEG]]) },
    );
    expect(contents).toEqual([{ role: 'user', parts: [{ text: 'first' }, { inlineData: PNG }, { text: 'then' }, { inlineData: JPEG }] }]);
  });

  it('translates a parallel tool round trip, carrying the thought signature back', () => {
    const { contents } = run([
      { role: 'user', content: 'weather in SF and NYC?' },
      { role: 'assistant', content: null, tool_calls: [call('c1', 'weather', '{"location":"SF"}', 'c2lnMQ=='), call('c2', 'weather', '{"location":"NYC"}')] },
      { role: 'tool', tool_call_id: 'c1', content: '{"temp":18}' },
      { role: 'tool', tool_call_id: 'c2', content: 'sunny' },
      { role: 'assistant', content: 'SF 18°, NYC sunny.' },
    ]);
    expect(contents).toEqual([
      { role: 'user', parts: [{ text: 'weather in SF and NYC?' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'weather', args: { location: 'SF' } }, thoughtSignature: 'c2lnMQ==' },
          { functionCall: { name: 'weather', args: { location: 'NYC' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'weather', response: { temp: 18 } } },
          { functionResponse: { name: 'weather', response: { content: 'sunny' } } },
        ],
      },
      { role: 'model', parts: [{ text: 'SF 18°, NYC sunny.' }] },
    ]);
  });

  it('keeps assistant text before its function calls and takes empty arguments as {}', () => {
    const { contents } = run([
      { role: 'user', content: 'x' },
      { role: 'assistant', content: 'Let me check.', tool_calls: [call('c1', 'now', '')] },
      { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: '12:00' }] },
    ]);
    expect(contents[1]).toEqual({ role: 'model', parts: [{ text: 'Let me check.' }, { functionCall: { name: 'now', args: {} } }] });
    expect(contents[2]).toEqual({ role: 'user', parts: [{ functionResponse: { name: 'now', response: { content: '12:00' } } }] });
  });

  it('puts images a tool returned right after its functionResponse', () => {
    const shot = img('data:image/png;base64,AAAA');
    const { contents } = run(
      [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, tool_calls: [call('c1', 'screenshot', '{}')] },
        { role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: 'done' }, shot] },
      ],
      { images: new Map([[shot, PNG]]) },
    );
    expect(contents[2].parts).toEqual([{ functionResponse: { name: 'screenshot', response: { content: 'done' } } }, { inlineData: PNG }]);
  });

  it('names the tool message whose id matches no earlier call', () => {
    expect(() =>
      run([
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, tool_calls: [call('c1', 'f', '{}')] },
        { role: 'tool', tool_call_id: 'nope', content: 'r' },
      ]),
    ).toThrowError(expect.objectContaining({ status: 400, param: 'messages[2].tool_call_id', code: 'invalid_tool_call_id' }));
  });

  it.each([
    ['{not json', 'is not valid JSON'],
    ['[1,2]', 'must be a JSON object'],
    ['"text"', 'must be a JSON object'],
  ])('names tool-call arguments %s', (args, message) => {
    expect(() => run([{ role: 'user', content: 'x' }, { role: 'assistant', content: null, tool_calls: [call('c1', 'f', args)] }])).toThrowError(
      expect.objectContaining({ status: 400, param: 'messages[1].tool_calls[0].function.arguments', message: expect.stringContaining(message) }),
    );
  });

  it('fills a lost thought signature with the documented placeholder for Gemini 3 only', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: null, tool_calls: [call('c1', 'f', '{}'), call('c2', 'g', '{}')] },
      { role: 'tool', tool_call_id: 'c1', content: '1' },
      { role: 'tool', tool_call_id: 'c2', content: '2' },
      { role: 'assistant', content: null, tool_calls: [call('c3', 'f', '{}', 'c2ln')] },
      { role: 'tool', tool_call_id: 'c3', content: '3' },
    ];
    const gemini3 = run(messages, { thoughtSignatures: true });
    expect(gemini3.contents[1].parts.map((p) => p.thoughtSignature)).toEqual([SKIP_THOUGHT_SIGNATURE, undefined]);
    expect(gemini3.contents[3].parts.map((p) => p.thoughtSignature)).toEqual(['c2ln']);
    expect(gemini3.notes.adapted).toEqual(['tool_calls.thought_signature=skip_thought_signature_validator']);
    const gemini25 = run(messages);
    expect(gemini25.contents[1].parts.map((p) => p.thoughtSignature)).toEqual([undefined, undefined]);
    expect(gemini25.notes.adapted).toEqual([]);
  });

  it('translates the legacy functions API', () => {
    const { contents } = run([
      { role: 'user', content: 'x' },
      { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{"a":1}' } },
      { role: 'function', name: 'f', content: '{"ok":true}' },
    ]);
    expect(contents.slice(1)).toEqual([
      { role: 'model', parts: [{ functionCall: { name: 'f', args: { a: 1 } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'f', response: { ok: true } } }] },
    ]);
  });

  it('inlines audio and data-URL files; refuses OpenAI file ids', () => {
    const { contents } = run([
      {
        role: 'user',
        content: [
          { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
          { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } },
        ],
      },
    ]);
    expect(contents[0].parts).toEqual([
      { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } },
    ]);
    expect(() => run([{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }])).toThrowError(
      expect.objectContaining({ status: 400, param: 'messages[0].content[0].file' }),
    );
    expect(() => run([{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'ogg' } }] }])).toThrowError(
      expect.objectContaining({ status: 400, param: 'messages[0].content[0].input_audio' }),
    );
  });
});

describe('responseObject', () => {
  it.each<[string, unknown]>([
    ['{"temp":18,"unit":"C"}', { temp: 18, unit: 'C' }],
    ['[1,2]', { content: [1, 2] }],
    ['42', { content: 42 }],
    ['null', { content: null }],
    ['"quoted"', { content: 'quoted' }],
    ['plain text', { content: 'plain text' }],
    ['', { content: '' }],
  ])('%j → %j', (text, expected) => {
    expect(responseObject(text)).toEqual(expected);
  });
});
