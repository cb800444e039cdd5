import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest } from '../../openai/types';
import type { RequestNotes } from '../provider';
import { toGeminiTools } from './to-gemini-tools';

const weather = {
  type: 'function' as const,
  function: {
    name: 'weather',
    description: 'Current weather',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'], additionalProperties: false },
  },
};
const noArgs = { type: 'function' as const, function: { name: 'now', parameters: { type: 'object', properties: {} } } };

const run = (extra: Partial<ChatCompletionRequest>) => {
  const notes: RequestNotes = { dropped: [], adapted: [] };
  const result = toGeminiTools({ model: 'm', messages: [], ...extra }, notes);
  return { ...result, notes };
};

describe('toGeminiTools', () => {
  it('declares functions with cleaned schemas', () => {
    expect(run({ tools: [weather, noArgs] }).tools).toEqual([
      {
        functionDeclarations: [
          { name: 'weather', description: 'Current weather', parameters: { type: 'OBJECT', properties: { location: { type: 'STRING' } }, required: ['location'] } },
          { name: 'now' },
        ],
      },
    ]);
  });

  it('omits parameters when there are none', () => {
    expect(run({ tools: [{ type: 'function', function: { name: 'ping' } }] }).tools).toEqual([{ functionDeclarations: [{ name: 'ping' }] }]);
  });

  it.each<[ChatCompletionRequest['tool_choice'], unknown]>([
    [undefined, undefined],
    ['auto', { functionCallingConfig: { mode: 'AUTO' } }],
    ['none', { functionCallingConfig: { mode: 'NONE' } }],
    ['required', { functionCallingConfig: { mode: 'ANY' } }],
    [{ type: 'function', function: { name: 'weather' } }, { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['weather'] } }],
  ])('tool_choice %j → %j', (tool_choice, expected) => {
    expect(run({ tools: [weather], tool_choice }).toolConfig).toEqual(expected);
  });

  it('sends no toolConfig without tools', () => {
    expect(run({ tool_choice: 'none' })).toEqual({ notes: { dropped: [], adapted: [] } });
  });

  it('reports strict and schema keywords it cannot keep', () => {
    const { notes } = run({
      tools: [{ type: 'function', function: { name: 'f', strict: true, parameters: { type: 'object', properties: { n: { type: 'number', multipleOf: 3 } } } } }],
    });
    expect(notes.dropped).toEqual(['tools[0].function.parameters.properties.n.multipleOf', 'tools[0].function.strict']);
  });
});
