import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Env } from '../../src/env';
import type { ChatCompletionRequest } from '../../src/openai/types';
import { callTarget } from '../../src/routing/call-target';
import type { Target } from '../../src/routing/catalog';
import { ANTHROPIC_TEST_KEY, startAnthropicMock, type AnthropicMock } from '../upstreams/anthropic';
import { OPENAI_TEST_KEY, startOpenAIMock, type OpenAIMock } from '../upstreams/openai';

// callTarget with the capability table in front of the providers, run in Node
// against the mocks: per-target adaptation, and strict mode (which the handler
// switches on from the `x-switchboard-strict: true` request header).

let openai: OpenAIMock;
let anthropic: AnthropicMock;
let env: Env;

beforeAll(async () => {
  [openai, anthropic] = await Promise.all([startOpenAIMock(), startAnthropicMock()]);
  env = {
    OPENAI_API_KEY: OPENAI_TEST_KEY,
    OPENAI_BASE_URL: `${openai.url}/v1`,
    ANTHROPIC_API_KEY: ANTHROPIC_TEST_KEY,
    ANTHROPIC_BASE_URL: anthropic.url,
  } as unknown as Env;
});
afterAll(async () => {
  await Promise.all([openai?.close(), anthropic?.close()]);
});
beforeEach(() => {
  openai.server.reset();
  anthropic.server.reset();
});

const request: ChatCompletionRequest = {
  model: 'x',
  messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }],
  temperature: 0.1,
  top_p: 0.95,
  max_tokens: 4000,
};
const target = (name: string, options: Target['options'] = {}): Target => {
  const [provider, model] = name.split('/');
  return { name, provider: provider as Target['provider'], model, options };
};
const call = (t: Target, strict?: boolean) =>
  callTarget(request, t, { env, signal: new AbortController().signal, maxImageBytes: 20 * 1024 * 1024, strict });

describe('callTarget and model capabilities', () => {
  it('adapts per target: the same request fits each deployment it is sent to', async () => {
    const five = await call(target('openai/gpt-5'));
    expect(five.notes).toEqual({ dropped: ['temperature', 'top_p'], adapted: ['max_tokens=max_completion_tokens'] });
    expect(openai.server.last.body).toMatchObject({ model: 'gpt-5', max_completion_tokens: 4000 });
    const four = await call(target('openai/gpt-4o'));
    expect(four.notes).toEqual({ dropped: [], adapted: [] });
    expect(openai.server.last.body).toMatchObject({ model: 'gpt-4o', max_tokens: 4000, temperature: 0.1, top_p: 0.95 });
  });

  it('strict: refuses (400, nothing sent) what the table would adapt', async () => {
    await expect(call(target('openai/gpt-5'), true)).rejects.toMatchObject({
      status: 400,
      param: 'temperature',
      code: 'strict_adaptation_refused',
      message: expect.stringContaining('drop top_p (the model takes no top_p)'),
    });
    expect(openai.server.requests).toHaveLength(0);
  });

  it('strict: refuses what the provider’s translation would drop, before sending', async () => {
    // Claude Haiku 4.5 on the default API version: top_p by the table, temperature by the API version.
    await expect(call(target('anthropic/claude-haiku-4-5'), true)).rejects.toMatchObject({ status: 400, param: 'top_p' });
    const onlyTemperature = { ...request, top_p: undefined };
    await expect(
      callTarget(onlyTemperature, target('anthropic/claude-haiku-4-5'), { env, signal: new AbortController().signal, maxImageBytes: 1e7, strict: true }),
    ).rejects.toMatchObject({ status: 400, param: 'temperature', message: expect.stringContaining('drop temperature') });
    expect(anthropic.server.requests).toHaveLength(0);
  });

  it('strict: a request the target takes as it is goes through', async () => {
    const result = await call(target('openai/gpt-4o'), true);
    expect(result.result.stream).toBe(false);
    expect(result.notes.dropped).toHaveLength(0);
    const legacy = await callTarget({ ...request, top_p: undefined }, target('anthropic/claude-haiku-4-5', { anthropic_version: '2023-06-01' }), {
      env,
      signal: new AbortController().signal,
      maxImageBytes: 1e7,
      strict: true,
    });
    expect(legacy.result.stream).toBe(false);
    expect(anthropic.server.last.body).toMatchObject({ temperature: 0.1, max_tokens: 4000 });
  });
});
