import { describe, expect, it } from 'vitest';
import { GatewayError } from '../openai/errors';
import type { ChatCompletionRequest } from '../openai/types';
import { adaptRequest } from './adapt-request';
import { tableCapabilities } from './capabilities-for';
import type { ModelCapabilities } from './model-table';
import type { ProviderName } from '../routing/catalog';

const b64 = (bytes: number[]) => Buffer.from(bytes).toString('base64');
const PNG = b64([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2]);
const GIF = b64([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
// Screenshots as the benchmark sends them: PNG bytes labelled image/jpeg.
const screenshot = { type: 'image_url' as const, image_url: { url: `data:image/jpeg;base64,${PNG}` } };

/** The request every benchmark step sends. */
const benchmark = (extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'm',
  messages: [
    { role: 'system', content: 'You are a GUI agent.' },
    { role: 'user', content: [{ type: 'text', text: 'Next action?' }, screenshot, screenshot] },
  ],
  temperature: 0.1,
  top_p: 0.95,
  frequency_penalty: 1.0,
  max_tokens: 4000,
  ...extra,
});

const caps = (target: string): ModelCapabilities => {
  const slash = target.indexOf('/');
  return tableCapabilities(target.slice(0, slash) as ProviderName, target.slice(slash + 1));
};
const adapt = (target: string, request = benchmark(), strict = false) => adaptRequest(request, caps(target), { strict, model: target });
const refusal = (fn: () => unknown): GatewayError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a GatewayError');
};

describe('adaptRequest: the benchmark request, per model family', () => {
  it.each([
    // target, dropped, adapted, fields of the adapted request
    ['openai/gpt-4o', [], [], { temperature: 0.1, top_p: 0.95, frequency_penalty: 1, max_tokens: 4000 }],
    ['azure/gpt-4o-eastus', [], [], { temperature: 0.1, top_p: 0.95, max_tokens: 4000 }],
    ['openai/gpt-4.1-mini', [], [], { max_tokens: 4000 }],
    ['openai/gpt-5', ['temperature', 'top_p', 'frequency_penalty'], ['max_tokens=max_completion_tokens'], { max_completion_tokens: 4000 }],
    ['openai/gpt-5.1-2025-11-13', ['temperature', 'top_p', 'frequency_penalty'], ['max_tokens=max_completion_tokens'], { max_completion_tokens: 4000 }],
    ['openai/o4-mini', ['temperature', 'top_p', 'frequency_penalty'], ['max_tokens=max_completion_tokens'], { max_completion_tokens: 4000 }],
    ['openai/gpt-5-chat-latest', [], [], { temperature: 0.1, max_tokens: 4000 }],
    ['anthropic/claude-sonnet-4-5', ['top_p', 'frequency_penalty'], [], { temperature: 0.1, max_tokens: 4000 }],
    ['anthropic/claude-sonnet-4-5-20250929', ['top_p', 'frequency_penalty'], [], { temperature: 0.1 }],
    ['anthropic/claude-haiku-4-5', ['top_p', 'frequency_penalty'], [], { temperature: 0.1 }],
    ['anthropic/claude-opus-4-1', ['top_p', 'frequency_penalty'], [], { temperature: 0.1 }],
    ['anthropic/claude-sonnet-4-6', ['top_p', 'frequency_penalty'], [], { temperature: 0.1 }],
    ['anthropic/claude-opus-4-7', ['temperature', 'top_p', 'frequency_penalty'], [], { max_tokens: 4000 }],
    ['anthropic/claude-sonnet-5-5', ['temperature', 'top_p', 'frequency_penalty'], [], { max_tokens: 4000 }],
    ['anthropic/claude-3-5-sonnet-20241022', ['frequency_penalty'], [], { temperature: 0.1, top_p: 0.95 }],
    ['anthropic/claude-sonnet-4-20250514', ['frequency_penalty'], [], { temperature: 0.1, top_p: 0.95 }],
    ['gemini/gemini-1.5-flash', [], [], { frequency_penalty: 1, top_p: 0.95 }],
    ['gemini/gemini-2.0-flash', [], [], { frequency_penalty: 1 }],
    ['gemini/gemini-2.5-flash', ['frequency_penalty'], [], { temperature: 0.1, top_p: 0.95, max_tokens: 4000 }],
    ['gemini/models/gemini-2.5-pro', ['frequency_penalty'], [], { temperature: 0.1 }],
    ['gemini/gemini-3-pro-preview', ['frequency_penalty'], [], { temperature: 0.1 }],
    ['gemini/gemini-3.1-flash', ['frequency_penalty'], [], { temperature: 0.1 }],
    ['gemini/gemma-3-27b-it', [], ['system_instruction=first_user_turn'], { temperature: 0.1, frequency_penalty: 1 }],
  ] as const)('%s', (target, dropped, adapted, fields) => {
    const result = adapt(target);
    expect(result.notes).toEqual({ dropped, adapted });
    expect(result.request).toMatchObject(fields);
    for (const param of dropped) expect(result.request).not.toHaveProperty(param);
    if (adapted.includes('max_tokens=max_completion_tokens' as never)) expect(result.request).not.toHaveProperty('max_tokens');
  });

  it('changes nothing (same object) when the model takes the request as it is', () => {
    const request = benchmark();
    expect(adaptRequest(request, caps('openai/gpt-4o'), { strict: false, model: 'gpt-4o' }).request).toBe(request);
  });

  it('never modifies the request it was given', () => {
    const request = benchmark();
    const copy = structuredClone(request);
    adapt('gemini/gemma-3-27b-it', request);
    adapt('openai/gpt-5', request);
    expect(request).toEqual(copy);
  });
});

describe('adaptRequest: individual rules', () => {
  it('clamps max_tokens and max_completion_tokens to the model’s output limit', () => {
    expect(adapt('openai/gpt-4o', benchmark({ max_tokens: 100000 })).notes.adapted).toEqual(['max_tokens=16384']);
    expect(adapt('openai/gpt-4o', benchmark({ max_tokens: 100000 })).request.max_tokens).toBe(16384);
    expect(adapt('anthropic/claude-sonnet-4-5', benchmark({ max_tokens: undefined, max_completion_tokens: 200000 })).request.max_completion_tokens).toBe(64000);
    expect(adapt('gemini/gemini-2.5-flash', benchmark({ max_tokens: 70000 })).notes.adapted).toEqual(['max_tokens=65536']);
    expect(adapt('openai/gpt-5', benchmark({ max_tokens: 500000 })).notes.adapted).toEqual(['max_tokens=max_completion_tokens', 'max_completion_tokens=128000']);
    // Unknown limits are left to the upstream.
    expect(adapt('anthropic/claude-sonnet-5-5', benchmark({ max_tokens: 500000 })).request.max_tokens).toBe(500000);
    expect(adapt('openai/my-finetune', benchmark({ max_tokens: 500000 })).notes).toEqual({ dropped: [], adapted: [] });
  });

  it('sends the default max_tokens when the client sets none, without naming it', () => {
    const none = benchmark({ max_tokens: undefined });
    expect(adapt('anthropic/claude-sonnet-4-6', none)).toMatchObject({ request: { max_tokens: 16384 }, notes: { adapted: [] } });
    expect(adapt('anthropic/claude-3-5-haiku-20241022', none).request.max_tokens).toBe(8192);
    expect(adapt('openai/gpt-4o', none).request).toBe(none);
    const configured = { ...caps('anthropic/claude-sonnet-4-6'), default_max_tokens: 1000 };
    const plain: ChatCompletionRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    expect(adaptRequest(plain, configured, { strict: true, model: 'm' }).request.max_tokens).toBe(1000);
  });

  it('keeps max_completion_tokens and drops max_tokens when a reasoning model gets both', () => {
    const result = adapt('openai/gpt-5', benchmark({ max_completion_tokens: 3000 }));
    expect(result.request).toMatchObject({ max_completion_tokens: 3000 });
    expect(result.request).not.toHaveProperty('max_tokens');
    expect(result.notes.dropped).toContain('max_tokens');
  });

  it('leaves defaults that change nothing out without naming them', () => {
    const request = benchmark({ temperature: 1, top_p: 1, frequency_penalty: 0, presence_penalty: 0, logprobs: false });
    const result = adapt('openai/gpt-5', request);
    expect(result.notes).toEqual({ dropped: [], adapted: ['max_tokens=max_completion_tokens'] });
    expect(result.request).toMatchObject({ temperature: 1 });
    for (const p of ['top_p', 'frequency_penalty', 'presence_penalty', 'logprobs']) expect(result.request).not.toHaveProperty(p);
  });

  it('keeps temperature when top_p comes alone, and top_p alone on models that refuse the pair', () => {
    expect(adapt('anthropic/claude-sonnet-4-5', benchmark({ temperature: undefined })).request).toMatchObject({ top_p: 0.95 });
    expect(adapt('anthropic/claude-sonnet-4-5', benchmark({ top_p: null })).notes.dropped).toEqual(['frequency_penalty']);
  });

  it('drops reasoning_effort and logprobs where the model has none', () => {
    expect(adapt('openai/gpt-4o', benchmark({ reasoning_effort: 'low' })).notes.dropped).toEqual(['reasoning_effort']);
    expect(adapt('openai/gpt-5', benchmark({ reasoning_effort: 'low', logprobs: true, top_logprobs: 2 })).notes.dropped).toEqual(
      ['temperature', 'top_p', 'frequency_penalty', 'logprobs', 'top_logprobs'],
    );
    expect(adapt('openai/o1-mini', benchmark({ messages: [{ role: 'user', content: 'hi' }], reasoning_effort: 'low' })).notes.dropped).toContain('reasoning_effort');
  });

  it('folds system and developer texts into the first user turn, or opens one', () => {
    const folded = adapt('openai/o1-mini', {
      model: 'm',
      messages: [
        { role: 'developer', content: 'Rule 1.' },
        { role: 'user', content: 'hi' },
        { role: 'system', content: [{ type: 'text', text: 'Rule 2.' }] },
        { role: 'assistant', content: 'hello' },
      ],
    });
    expect(folded.request.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Rule 1.\n\nRule 2.' }, { type: 'text', text: 'hi' }] },
      { role: 'assistant', content: 'hello' },
    ]);
    expect(folded.notes.adapted).toEqual(['system_instruction=first_user_turn']);
    const opened = adapt('gemini/gemma-3-4b-it', { model: 'm', messages: [{ role: 'system', content: 'S' }, { role: 'assistant', content: 'A' }] });
    expect(opened.request.messages).toEqual([{ role: 'user', content: 'S' }, { role: 'assistant', content: 'A' }]);
  });
});

describe('adaptRequest: images and tools the model cannot take', () => {
  const withImage = (url: string, count = 1): ChatCompletionRequest => ({
    model: 'm',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, ...Array.from({ length: count }, () => ({ type: 'image_url' as const, image_url: { url } }))] }],
  });

  it('refuses a GIF for Gemini, naming the image and the formats it takes', () => {
    const error = refusal(() => adapt('gemini/gemini-2.5-flash', withImage(`data:image/png;base64,${GIF}`)));
    expect(error).toMatchObject({ status: 400, param: 'messages[0].content[1].image_url.url', code: 'unsupported_image_format' });
    expect(error.message).toContain('GIF');
    expect(error.message).toContain('PNG, JPEG, WebP, HEIC, HEIF');
    // Claude and OpenAI take GIFs.
    expect(() => adapt('anthropic/claude-sonnet-4-5', withImage(`data:image/gif;base64,${GIF}`))).not.toThrow();
    expect(() => adapt('openai/gpt-4o', withImage(`data:image/gif;base64,${GIF}`))).not.toThrow();
  });

  it('refuses images over the model’s size limit and over its count', () => {
    const big = `data:image/png;base64,${PNG}${'A'.repeat(7_200_000)}`;
    const error = refusal(() => adapt('anthropic/claude-sonnet-4-5', withImage(big)));
    expect(error).toMatchObject({ status: 400, code: 'image_too_large', param: 'messages[0].content[1].image_url.url' });
    expect(error.message).toContain(String(5 * 1024 * 1024));
    const many = refusal(() => adapt('anthropic/claude-sonnet-4-5', withImage(`data:image/png;base64,${PNG}`, 101)));
    expect(many).toMatchObject({ status: 400, code: 'too_many_images', param: 'messages[0].content[101].image_url.url' });
    expect(many.message).toContain('at most 100 images');
    expect(() => adapt('anthropic/claude-sonnet-4-5', withImage('https://example.com/a.png', 100))).not.toThrow();
  });

  it('refuses images for models without vision, and tools for models without tools', () => {
    expect(refusal(() => adapt('openai/o3-mini'))).toMatchObject({ status: 400, code: 'images_not_supported', param: 'messages[1].content[1].image_url.url' });
    expect(refusal(() => adapt('openai/gpt-3.5-turbo'))).toMatchObject({ code: 'images_not_supported' });
    const tools = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }], tools: [{ type: 'function' as const, function: { name: 'f' } }] };
    expect(refusal(() => adapt('gemini/gemma-3-27b-it', tools))).toMatchObject({ status: 400, code: 'tools_not_supported', param: 'tools' });
    expect(() => adapt('gemini/gemini-2.5-flash', tools)).not.toThrow();
  });

  it('leaves what it cannot read (malformed or unknown bytes) to the provider’s own checks', () => {
    expect(() => adapt('gemini/gemini-2.5-flash', withImage('data:image/png;base64,%%%%'))).not.toThrow();
    expect(() => adapt('gemini/gemini-2.5-flash', withImage('not a url'))).not.toThrow();
  });
});

describe('adaptRequest: strict mode', () => {
  it('refuses, naming every change it would have made and why', () => {
    const error = refusal(() => adapt('openai/gpt-5', benchmark(), true));
    expect(error).toMatchObject({ status: 400, type: 'invalid_request_error', param: 'temperature', code: 'strict_adaptation_refused' });
    expect(error.message).toContain('drop temperature (the model accepts only the default temperature (1))');
    expect(error.message).toContain('drop top_p');
    expect(error.message).toContain('drop frequency_penalty');
    expect(error.message).toContain('max_tokens=max_completion_tokens');
  });

  it('passes a request that needs no change', () => {
    const request = benchmark();
    expect(adaptRequest(request, caps('openai/gpt-4o'), { strict: true, model: 'gpt-4o' }).request).toBe(request);
  });
});
