import { describe, expect, it } from 'vitest';
import { azureChatUrl, normalizeAzureStreamEvent } from './index';

// Azure stream events → OpenAI chunks. The first two inputs are lines of the recorded
// Azure stream (shared/fixtures/recorded/openai/azure-model-router.1.chunks.txt).

const RECORDED_PROMPT_FILTER =
  '{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]}';
const RECORDED_FIRST_CHUNK =
  '{"choices":[{"content_filter_results":{},"delta":{"content":"","refusal":null,"role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],"created":1762317021,"id":"chatcmpl-CYPS1lijGoK8gd9lYzY3r9Sx50nbt","model":"gpt-5-nano-2025-08-07","obfuscation":"D3WbtIxo1Q2j1Q","object":"chat.completion.chunk","system_fingerprint":null,"usage":null}';

describe('normalizeAzureStreamEvent', () => {
  const cases: [name: string, input: string, expected: string | null][] = [
    ['drops the recorded prompt-filter-only chunk', RECORDED_PROMPT_FILTER, null],
    ['removes a null system_fingerprint in the middle', RECORDED_FIRST_CHUNK, RECORDED_FIRST_CHUNK.replace('"system_fingerprint":null,', '')],
    ['removes a null system_fingerprint at the end', '{"id":"x","choices":[],"system_fingerprint":null}', '{"id":"x","choices":[]}'],
    ['removes a null system_fingerprint at the start', '{"system_fingerprint":null,"id":"x","choices":[]}', '{"id":"x","choices":[]}'],
    ['keeps a real system_fingerprint', '{"id":"x","choices":[],"system_fingerprint":"fp_1"}', '{"id":"x","choices":[],"system_fingerprint":"fp_1"}'],
    [
      'keeps prompt_filter_results on a chunk that has choices',
      '{"id":"x","choices":[{"index":0,"delta":{"content":"a"}}],"prompt_filter_results":[]}',
      '{"id":"x","choices":[{"index":0,"delta":{"content":"a"}}],"prompt_filter_results":[]}',
    ],
    ['keeps the usage chunk (empty choices, with usage)', '{"id":"","choices":[],"usage":{"total_tokens":3},"prompt_filter_results":[]}', '{"id":"","choices":[],"usage":{"total_tokens":3},"prompt_filter_results":[]}'],
    ['leaves text that merely mentions the field alone', '{"id":"x","choices":[{"delta":{"content":"\\"system_fingerprint\\":null"}}]}', '{"id":"x","choices":[{"delta":{"content":"\\"system_fingerprint\\":null"}}]}'],
    ['passes non-JSON data on as it is', 'not json "prompt_filter_results"', 'not json "prompt_filter_results"'],
    ['passes [DONE] on', '[DONE]', '[DONE]'],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    const out = normalizeAzureStreamEvent(input);
    expect(out).toBe(expected);
    if (out && out.startsWith('{')) expect(() => JSON.parse(out)).not.toThrow();
  });
});

describe('azureChatUrl', () => {
  it.each([
    ['https://r.openai.azure.com', 'gpt-4o', '2024-10-21', 'https://r.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21'],
    ['https://r.openai.azure.com///', 'gpt-4o', '2024-10-21', 'https://r.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21'],
    ['https://r.openai.azure.com', 'a b/c?d', '2025-01-01-preview', 'https://r.openai.azure.com/openai/deployments/a%20b%2Fc%3Fd/chat/completions?api-version=2025-01-01-preview'],
  ])('%s + %s', (endpoint, deployment, version, expected) => expect(azureChatUrl(endpoint, deployment, version)).toBe(expected));
});
