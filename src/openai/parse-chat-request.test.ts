import { describe, expect, it } from 'vitest';
import { GatewayError } from './errors';
import { parseChatRequest, validateChatRequest } from './parse-chat-request';

// Every validation rule: the error names the exact parameter path, with a code a client
// can branch on; and every legitimate request shape passes untouched.

const user = (content: unknown) => ({ role: 'user', content });
const base = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o', messages: [user('hi')], ...extra });
const withMessages = (...messages: unknown[]) => base({ messages });
const toolCall = (extra: Record<string, unknown> = {}) => ({ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' }, ...extra });
const tool = (fn: Record<string, unknown> = { name: 'f' }) => ({ type: 'function', function: fn });
/** An object `depth` levels deep: {a:{a:…{}}}. */
const nested = (depth: number) => {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
};
const PNG_1PX =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

function errorOf(body: unknown, limits?: { maxImageBytes?: number }): GatewayError {
  try {
    validateChatRequest(body, limits);
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a validation error');
}

type Case = [name: string, body: unknown, param: string | null, code: string];

const invalid: Case[] = [
  // the body
  ['array body', [base()], null, 'invalid_type'],
  ['null body', null, null, 'invalid_type'],
  ['string body', 'hello', null, 'invalid_type'],
  ['number body', 42, null, 'invalid_type'],
  // model
  ['missing model', { messages: [user('x')] }, 'model', 'missing_required_parameter'],
  ['model a number', base({ model: 4 }), 'model', 'invalid_type'],
  ['model null', base({ model: null }), 'model', 'invalid_type'],
  ['model empty', base({ model: '' }), 'model', 'invalid_value'],
  ['model over 256 characters', base({ model: 'm'.repeat(257) }), 'model', 'invalid_value'],
  ['model with a lone surrogate', base({ model: 'azure/dep\ud800' }), 'model', 'invalid_value'],
  // messages
  ['missing messages', { model: 'gpt-4o' }, 'messages', 'missing_required_parameter'],
  ['messages an object', base({ messages: { role: 'user', content: 'x' } }), 'messages', 'invalid_type'],
  ['messages a string', base({ messages: 'hi' }), 'messages', 'invalid_type'],
  ['messages empty', base({ messages: [] }), 'messages', 'empty_array'],
  ['message not an object', withMessages(user('x'), 'hi'), 'messages[1]', 'invalid_type'],
  ['message an array', withMessages([user('x')]), 'messages[0]', 'invalid_type'],
  ['missing role', withMessages({ content: 'x' }), 'messages[0].role', 'missing_required_parameter'],
  ['unknown role', withMessages({ role: 'robot', content: 'x' }), 'messages[0].role', 'invalid_value'],
  ['role a number', withMessages({ role: 1, content: 'x' }), 'messages[0].role', 'invalid_value'],
  ['role deeply nested', withMessages({ role: JSON.parse('['.repeat(20000) + ']'.repeat(20000)), content: 'x' }), 'messages[0].role', 'invalid_value'],
  ['role __proto__', withMessages({ role: '__proto__', content: 'x' }), 'messages[0].role', 'invalid_value'],
  ['user without content', withMessages({ role: 'user' }), 'messages[0].content', 'missing_required_parameter'],
  ['system with null content', withMessages({ role: 'system', content: null }), 'messages[0].content', 'missing_required_parameter'],
  ['tool without content', withMessages({ role: 'tool', tool_call_id: 'c' }), 'messages[0].content', 'missing_required_parameter'],
  ['assistant with neither content nor tool_calls', withMessages(user('x'), { role: 'assistant', content: null }), 'messages[1].content', 'missing_required_parameter'],
  ['content a number', withMessages(user(7)), 'messages[0].content', 'invalid_type'],
  ['content an object', withMessages(user({ type: 'text', text: 'x' })), 'messages[0].content', 'invalid_type'],
  ['content an empty array', withMessages(user([])), 'messages[0].content', 'empty_array'],
  ['name a number', withMessages({ role: 'user', content: 'x', name: 5 }), 'messages[0].name', 'invalid_type'],
  ['tool message without tool_call_id', withMessages({ role: 'tool', content: 'r' }), 'messages[0].tool_call_id', 'missing_required_parameter'],
  ['tool_call_id a number', withMessages({ role: 'tool', content: 'r', tool_call_id: 3 }), 'messages[0].tool_call_id', 'invalid_type'],
  ['tool_calls on a user message', withMessages({ role: 'user', content: 'x', tool_calls: [toolCall()] }), 'messages[0].tool_calls', 'invalid_value'],
  ['tool_calls not an array', withMessages({ role: 'assistant', tool_calls: toolCall() }), 'messages[0].tool_calls', 'invalid_type'],
  ['tool call not an object', withMessages({ role: 'assistant', tool_calls: ['call'] }), 'messages[0].tool_calls[0]', 'invalid_type'],
  ['tool call without id', withMessages({ role: 'assistant', tool_calls: [toolCall({ id: undefined })] }), 'messages[0].tool_calls[0].id', 'invalid_type'],
  ['tool call of another type', withMessages({ role: 'assistant', tool_calls: [toolCall({ type: 'custom' })] }), 'messages[0].tool_calls[0].type', 'invalid_value'],
  ['tool call without function', withMessages({ role: 'assistant', tool_calls: [toolCall({ function: undefined })] }), 'messages[0].tool_calls[0].function', 'invalid_type'],
  ['tool call function name missing', withMessages({ role: 'assistant', tool_calls: [toolCall({ function: { arguments: '{}' } })] }), 'messages[0].tool_calls[0].function.name', 'invalid_type'],
  ['tool call arguments an object', withMessages({ role: 'assistant', tool_calls: [toolCall({ function: { name: 'f', arguments: {} } })] }), 'messages[0].tool_calls[0].function.arguments', 'invalid_type'],
  // content parts
  ['part not an object', withMessages(user(['hi'])), 'messages[0].content[0]', 'invalid_type'],
  ['part without type', withMessages(user([{ text: 'x' }])), 'messages[0].content[0].type', 'invalid_type'],
  ['part of unknown type', withMessages(user([{ type: 'video', video: {} }])), 'messages[0].content[0].type', 'invalid_value'],
  ['image in a system message', withMessages({ role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }), 'messages[0].content[0].type', 'invalid_value'],
  ['refusal in a user message', withMessages(user([{ type: 'refusal', refusal: 'no' }])), 'messages[0].content[0].type', 'invalid_value'],
  ['text part without text', withMessages(user([{ type: 'text', text: 'a' }, { type: 'text' }])), 'messages[0].content[1].text', 'invalid_type'],
  ['refusal part without refusal', withMessages(user('x'), { role: 'assistant', content: [{ type: 'refusal' }] }), 'messages[1].content[0].refusal', 'invalid_type'],
  ['image part without image_url', withMessages(user([{ type: 'image_url' }])), 'messages[0].content[0].image_url', 'invalid_type'],
  ['image_url a string', withMessages(user([{ type: 'image_url', image_url: 'https://x/y.png' }])), 'messages[0].content[0].image_url', 'invalid_type'],
  ['image url a number', withMessages(user([{ type: 'image_url', image_url: { url: 1 } }])), 'messages[0].content[0].image_url.url', 'invalid_type'],
  ['image url of another scheme', withMessages(user([{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }])), 'messages[0].content[0].image_url.url', 'invalid_image_url'],
  ['image url a bare path', withMessages(user([{ type: 'image_url', image_url: { url: '/tmp/screen.png' } }])), 'messages[0].content[0].image_url.url', 'invalid_image_url'],
  ['image detail unknown', withMessages(user([{ type: 'image_url', image_url: { url: 'https://x/y.png', detail: 'ultra' } }])), 'messages[0].content[0].image_url.detail', 'invalid_value'],
  // booleans and objects
  ['stream a string', base({ stream: 'true' }), 'stream', 'invalid_type'],
  ['logprobs a number', base({ logprobs: 1 }), 'logprobs', 'invalid_type'],
  ['parallel_tool_calls a string', base({ parallel_tool_calls: 'no' }), 'parallel_tool_calls', 'invalid_type'],
  ['stream_options an array', base({ stream: true, stream_options: [] }), 'stream_options', 'invalid_type'],
  ['include_usage a string', base({ stream: true, stream_options: { include_usage: 'yes' } }), 'stream_options.include_usage', 'invalid_type'],
  ['user a number', base({ user: 12 }), 'user', 'invalid_type'],
  ['logit_bias an array', base({ logit_bias: [1] }), 'logit_bias', 'invalid_type'],
  // numbers
  ['temperature a string', base({ temperature: '0.5' }), 'temperature', 'invalid_type'],
  ['temperature above 2', base({ temperature: 2.01 }), 'temperature', 'invalid_value'],
  ['temperature below 0', base({ temperature: -0.1 }), 'temperature', 'invalid_value'],
  ['temperature infinite (1e400)', base({ temperature: Infinity }), 'temperature', 'invalid_value'],
  ['top_p above 1', base({ top_p: 1.5 }), 'top_p', 'invalid_value'],
  ['top_p a boolean', base({ top_p: true }), 'top_p', 'invalid_type'],
  ['n zero', base({ n: 0 }), 'n', 'invalid_value'],
  ['n fractional', base({ n: 1.5 }), 'n', 'invalid_type'],
  ['n above 128', base({ n: 129 }), 'n', 'invalid_value'],
  ['max_tokens zero', base({ max_tokens: 0 }), 'max_tokens', 'invalid_value'],
  ['max_tokens a string', base({ max_tokens: '100' }), 'max_tokens', 'invalid_type'],
  ['max_completion_tokens negative', base({ max_completion_tokens: -1 }), 'max_completion_tokens', 'invalid_value'],
  ['presence_penalty above 2', base({ presence_penalty: 2.5 }), 'presence_penalty', 'invalid_value'],
  ['frequency_penalty below -2', base({ frequency_penalty: -2.5 }), 'frequency_penalty', 'invalid_value'],
  ['top_logprobs above 20', base({ top_logprobs: 21 }), 'top_logprobs', 'invalid_value'],
  ['seed fractional', base({ seed: 1.5 }), 'seed', 'invalid_type'],
  ['seed beyond int64', base({ seed: 2 ** 64 }), 'seed', 'invalid_value'],
  // stop
  ['stop a number', base({ stop: 5 }), 'stop', 'invalid_type'],
  ['stop with five sequences', base({ stop: ['a', 'b', 'c', 'd', 'e'] }), 'stop', 'invalid_value'],
  ['stop with a number inside', base({ stop: ['a', 1] }), 'stop[1]', 'invalid_type'],
  // tools
  ['tools an object', base({ tools: tool() }), 'tools', 'invalid_type'],
  ['tool not an object', base({ tools: [tool(), 'f'] }), 'tools[1]', 'invalid_type'],
  ['tool of another type', base({ tools: [{ type: 'code_interpreter' }] }), 'tools[0].type', 'invalid_value'],
  ['tool without function', base({ tools: [{ type: 'function' }] }), 'tools[0].function', 'invalid_type'],
  ['tool function name missing', base({ tools: [tool({ description: 'd' })] }), 'tools[0].function.name', 'invalid_type'],
  ['tool function name with a space', base({ tools: [tool({ name: 'get weather' })] }), 'tools[0].function.name', 'invalid_value'],
  ['tool function name over 64 characters', base({ tools: [tool({ name: 'f'.repeat(65) })] }), 'tools[0].function.name', 'invalid_value'],
  ['tool description a number', base({ tools: [tool({ name: 'f', description: 1 })] }), 'tools[0].function.description', 'invalid_type'],
  ['tool parameters an array', base({ tools: [tool({ name: 'f', parameters: [] })] }), 'tools[0].function.parameters', 'invalid_type'],
  ['tool parameters nested 101 levels', base({ tools: [tool({ name: 'f', parameters: nested(101) })] }), 'tools[0].function.parameters', 'invalid_value'],
  ['tool parameters nested 100k levels', base({ tools: [tool({ name: 'f', parameters: JSON.parse(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`) })] }), 'tools[0].function.parameters', 'invalid_value'],
  ['tool parameters nesting arrays deeply', base({ tools: [tool({ name: 'f', parameters: { anyOf: JSON.parse('['.repeat(5000) + ']'.repeat(5000)) } })] }), 'tools[0].function.parameters', 'invalid_value'],
  // tool_choice
  ['tool_choice unknown string', base({ tools: [tool()], tool_choice: 'sometimes' }), 'tool_choice', 'invalid_value'],
  ['tool_choice required without tools', base({ tool_choice: 'required' }), 'tool_choice', 'invalid_value'],
  ['tool_choice required with no tools', base({ tools: [], tool_choice: 'required' }), 'tool_choice', 'invalid_value'],
  ['tool_choice a malformed object', base({ tools: [tool()], tool_choice: { type: 'function', name: 'f' } }), 'tool_choice', 'invalid_value'],
  ['tool_choice a number', base({ tools: [tool()], tool_choice: 1 }), 'tool_choice', 'invalid_value'],
  ['tool_choice names an absent function', base({ tools: [tool()], tool_choice: { type: 'function', function: { name: 'g' } } }), 'tool_choice', 'invalid_value'],
  // response_format
  ['response_format a string', base({ response_format: 'json' }), 'response_format', 'invalid_type'],
  ['response_format of unknown type', base({ response_format: { type: 'xml' } }), 'response_format.type', 'invalid_value'],
  ['json_schema missing', base({ response_format: { type: 'json_schema' } }), 'response_format.json_schema', 'invalid_type'],
  ['json_schema without name', base({ response_format: { type: 'json_schema', json_schema: { schema: {} } } }), 'response_format.json_schema.name', 'invalid_type'],
  ['json_schema schema nested 101 levels', base({ response_format: { type: 'json_schema', json_schema: { name: 'n', schema: nested(101) } } }), 'response_format.json_schema.schema', 'invalid_value'],
  ['json_schema schema an array', base({ response_format: { type: 'json_schema', json_schema: { name: 'n', schema: [] } } }), 'response_format.json_schema.schema', 'invalid_type'],
];

describe('validateChatRequest rejects', () => {
  it.each(invalid)('%s', (_name, body, param, code) => {
    const error = errorOf(body);
    expect(error.status).toBe(400);
    expect(error.type).toBe('invalid_request_error');
    expect({ param: error.param, code: error.code }).toEqual({ param, code });
    if (param) expect(error.message).toContain(`'${param}'`);
  });

  it('reports the first problem in document order', () => {
    const error = errorOf(withMessages(user('ok'), { role: 'assistant', content: null }, { role: 'tool', content: 'x' }));
    expect(error.param).toBe('messages[1].content');
  });

  it('keeps messages about huge values short', () => {
    const error = errorOf(withMessages({ role: 'x'.repeat(1_000_000), content: 'x' }));
    expect(error.message.length).toBeLessThan(200);
  });
});

describe('validateChatRequest checks image data: URLs when given the image limit', () => {
  const image = (url: string) => withMessages(user([{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url } }]));
  const param = 'messages[0].content[1].image_url.url';
  const cases: [name: string, url: string, status: number, code: string][] = [
    ['no comma', 'data:image/png;base64', 400, 'invalid_image_url'],
    ['not base64', 'data:image/png,rawbytes', 400, 'invalid_image_url'],
    ['empty payload', 'data:image/png;base64,', 400, 'invalid_image_url'],
    ['over the limit', `data:image/png;base64,${'A'.repeat(200)}`, 413, 'request_too_large'],
  ];
  it.each(cases)('%s', (_name, url, status, code) => {
    const error = errorOf(image(url), { maxImageBytes: 100 });
    expect({ status: error.status, param: error.param, code: error.code }).toEqual({ status, param, code });
  });

  it('accepts an image at the limit, line breaks not counted', () => {
    // 100 decoded bytes = 136 base64 characters (with `==`), broken into 76-character lines.
    const payload = 'A'.repeat(132) + 'AA==';
    const wrapped = payload.replace(/(.{76})/g, '$1\r\n');
    expect(() => validateChatRequest(image(`data:image/png;base64,${wrapped}`), { maxImageBytes: 100 })).not.toThrow();
    expect(errorOf(image(`data:image/png;base64,${'A'.repeat(136)}AA==`), { maxImageBytes: 100 }).status).toBe(413);
  });

  it('leaves the payload itself to the upstream (no scan of megabytes per request)', () => {
    expect(() => validateChatRequest(image('data:image/png;base64,%%%not*base64%%%'), { maxImageBytes: 100 })).not.toThrow();
  });

  it('checks nothing about data: URLs without a limit', () => {
    expect(() => validateChatRequest(image('data:image/png;base64'))).not.toThrow();
  });
});

describe('validateChatRequest accepts', () => {
  const valid: [name: string, body: Record<string, unknown>][] = [
    ['the minimal request', base()],
    ['multi-part text', withMessages(user([{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }]))],
    [
      'images as data: URLs and https URLs, with detail',
      withMessages(
        user([
          { type: 'text', text: 'compare' },
          { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${PNG_1PX}`, detail: 'high' } },
          { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
          { type: 'image_url', image_url: { url: 'http://example.com/b.png', detail: null } },
        ]),
      ),
    ],
    ['audio and file parts', withMessages(user([{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }, { type: 'file', file: { file_id: 'f' } }]))],
    ['system and developer roles, string and parts', withMessages({ role: 'system', content: 's' }, { role: 'developer', content: [{ type: 'text', text: 'd' }] }, user('u'))],
    [
      'a tool round trip: assistant with null content and tool_calls, then a tool message',
      base({
        messages: [
          user('weather?'),
          { role: 'assistant', content: null, tool_calls: [toolCall(), toolCall({ id: 'call_2' })] },
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
          { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'rainy' }] },
        ],
        tools: [tool({ name: 'f', description: 'weather', parameters: { type: 'object', properties: {} }, strict: true })],
        tool_choice: 'auto',
        parallel_tool_calls: true,
      }),
    ],
    ['assistant with empty content and tool_calls', withMessages(user('x'), { role: 'assistant', content: '', tool_calls: [toolCall()] })],
    ['assistant with a legacy function_call', withMessages(user('x'), { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{}' } })],
    ['a legacy function message', withMessages(user('x'), { role: 'function', name: 'f', content: 'r' })],
    ['assistant text and refusal parts', withMessages(user('x'), { role: 'assistant', content: [{ type: 'refusal', refusal: 'no' }] }, user('y'))],
    ['named tool_choice and required', base({ tools: [tool({ name: 'get_weather-2' })], tool_choice: { type: 'function', function: { name: 'get_weather-2' } } })],
    ['tool_choice required with tools', base({ tools: [tool()], tool_choice: 'required' })],
    [
      'every sampling parameter at its bounds',
      base({ temperature: 2, top_p: 0, n: 128, max_tokens: 1, max_completion_tokens: 1, presence_penalty: -2, frequency_penalty: 2, top_logprobs: 20, logprobs: true, seed: -(2 ** 63) }),
    ],
    ['a seed from the whole int64 range', base({ seed: 2 ** 62 })],
    ['null for every optional parameter', base({ stream: null, stream_options: null, temperature: null, top_p: null, n: null, stop: null, max_tokens: null, seed: null, user: null, logit_bias: null, tools: null, tool_choice: null, response_format: null })],
    ['stop as a string and as a list', base({ stop: '\n' })],
    ['stop as a list of four', base({ stop: ['a', 'b', 'c', 'd'] })],
    ['streaming with usage', base({ stream: true, stream_options: { include_usage: true } })],
    ['response_format json_object', base({ response_format: { type: 'json_object' } })],
    ['response_format json_schema', base({ response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } } })],
    ['a model name with a provider prefix and slashes', base({ model: 'openai/ft:gpt-4o:org/custom' })],
    ['a model name with an emoji (a surrogate pair)', base({ model: 'gpt-😀' })],
    ['schemas nested exactly 100 levels', base({ tools: [tool({ name: 'f', parameters: nested(100) })], response_format: { type: 'json_schema', json_schema: { name: 'n', schema: nested(100) } } })],
    ['user and logit_bias', base({ user: 'u-1', logit_bias: { '50256': -100 } })],
  ];

  it.each(valid)('%s', (_name, body) => {
    const copy = structuredClone(body);
    expect(() => validateChatRequest(body, { maxImageBytes: 1024 })).not.toThrow();
    expect(body).toEqual(copy); // validation never rewrites the request
  });
});

describe('parseChatRequest', () => {
  it('keeps unknown extra parameters exactly as sent', () => {
    const text = JSON.stringify(
      base({ top_k: 40, repetition_penalty: 1.1, guided_json: { type: 'object' }, chat_template_kwargs: { enable_thinking: false }, constructor: 1 }),
    );
    expect(parseChatRequest(text)).toEqual(JSON.parse(text));
  });

  it('keeps a __proto__ key as data, without touching any prototype', () => {
    const request = parseChatRequest('{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"__proto__":{"polluted":true}}');
    expect(Object.getPrototypeOf(request)).toBe(Object.prototype);
    expect(Object.hasOwn(request, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  const bad: [name: string, text: string, param: string | null, code: string][] = [
    ['empty body', '', null, 'invalid_json'],
    ['truncated JSON', '{"model":"gpt-4o","messages":[', null, 'invalid_json'],
    ['trailing garbage', `${JSON.stringify(base())}x`, null, 'invalid_json'],
    ['single quotes', "{'model':'gpt-4o'}", null, 'invalid_json'],
    ['NaN literal', '{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"temperature":NaN}', null, 'invalid_json'],
    ['a JSON string', '"hello"', null, 'invalid_type'],
    ['JSON null', 'null', null, 'invalid_type'],
    ['1e400 (Infinity after parsing)', '{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"top_p":1e400}', 'top_p', 'invalid_value'],
    ['deep nesting in messages', `{"model":"m","messages":${'['.repeat(50_000)}${']'.repeat(50_000)}}`, 'messages[0]', 'invalid_type'],
  ];
  it.each(bad)('%s', (_name, text, param, code) => {
    let error: unknown;
    try {
      parseChatRequest(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect({ status: (error as GatewayError).status, param: (error as GatewayError).param, code: (error as GatewayError).code }).toEqual({ status: 400, param, code });
  });

  it('accepts deep nesting in parameters it does not read', () => {
    const text = `{"model":"m","messages":[{"role":"user","content":"x"}],"extra":${'['.repeat(50_000)}${']'.repeat(50_000)}}`;
    expect(parseChatRequest(text).model).toBe('m');
  });
});
