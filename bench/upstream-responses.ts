// Response bodies of the zero-latency mock upstreams, in each provider's wire format
// (shapes as in ../shared/fixtures/recorded and test/upstreams/): built once, so the
// mock spends no time per request beyond reading the body and writing bytes.

/** Content events per streamed answer (OpenAI chunks, Claude content_block_delta events, Gemini chunks). */
export const STREAM_EVENTS = 300;

const ANSWER = 'DONE("dark mode is enabled") The toggle labelled "Dark mode" is now on and the window uses the dark theme.';
const tokenText = (i: number) => (i === 0 ? 'Token' : ` t${i}`);

export interface SseEventOut {
  event?: string;
  data: string;
}

/** `event:` lines only where the provider sends them (Anthropic). */
export function encodeSse(events: SseEventOut[], separator = '\n\n'): Buffer[] {
  return events.map((e) => Buffer.from(`${e.event ? `event: ${e.event}\n` : ''}data: ${e.data}${separator}`));
}

// --- OpenAI chat completions ---------------------------------------------------

export function openaiJson(model: string): string {
  return JSON.stringify({
    id: 'chatcmpl-bench0001',
    object: 'chat.completion',
    created: 1732000000,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: ANSWER, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage: {
      prompt_tokens: 2310,
      completion_tokens: 28,
      total_tokens: 2338,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_bench',
  });
}

export function openaiSse(model: string): SseEventOut[] {
  const chunk = (choices: unknown[]) =>
    JSON.stringify({ id: 'chatcmpl-bench0001', object: 'chat.completion.chunk', created: 1732000000, model, system_fingerprint: 'fp_bench', choices });
  const events: SseEventOut[] = [{ data: chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]) }];
  for (let i = 0; i < STREAM_EVENTS; i++) {
    events.push({ data: chunk([{ index: 0, delta: { content: tokenText(i) }, logprobs: null, finish_reason: null }]) });
  }
  events.push({ data: chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]) });
  events.push({ data: '[DONE]' });
  return events;
}

// --- Anthropic Messages ----------------------------------------------------------

export function anthropicJson(model: string): string {
  return JSON.stringify({
    id: 'msg_01BenchResponse000000001',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: ANSWER }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 2310, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 28, service_tier: 'standard' },
  });
}

export function anthropicSse(model: string): SseEventOut[] {
  const ev = (event: string, body: unknown): SseEventOut => ({ event, data: JSON.stringify(body) });
  const events: SseEventOut[] = [
    ev('message_start', {
      type: 'message_start',
      message: {
        id: 'msg_01BenchResponse000000001',
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 2310, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1, service_tier: 'standard' },
      },
    }),
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    ev('ping', { type: 'ping' }),
  ];
  for (let i = 0; i < STREAM_EVENTS; i++) {
    events.push(ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: tokenText(i) } }));
  }
  events.push(ev('content_block_stop', { type: 'content_block_stop', index: 0 }));
  events.push(
    ev('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { input_tokens: 2310, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: STREAM_EVENTS },
    }),
  );
  events.push(ev('message_stop', { type: 'message_stop' }));
  return events;
}

// --- Gemini generateContent / streamGenerateContent ----------------------------

const geminiUsage = (candidates: number) => ({
  promptTokenCount: 2310,
  candidatesTokenCount: candidates,
  totalTokenCount: 2310 + candidates,
  promptTokensDetails: [
    { modality: 'TEXT', tokenCount: 246 },
    { modality: 'IMAGE', tokenCount: 2064 },
  ],
});

export function geminiJson(model: string): string {
  return JSON.stringify({
    candidates: [{ content: { parts: [{ text: ANSWER }], role: 'model' }, finishReason: 'STOP', index: 0 }],
    usageMetadata: geminiUsage(28),
    modelVersion: model,
    responseId: 'bH6LaZW8Fp_3nsEPbench01',
  });
}

export function geminiSse(model: string): SseEventOut[] {
  const events: SseEventOut[] = [];
  for (let i = 0; i < STREAM_EVENTS; i++) {
    const last = i === STREAM_EVENTS - 1;
    events.push({
      data: JSON.stringify({
        candidates: [{ content: { parts: [{ text: tokenText(i) }], role: 'model' }, ...(last ? { finishReason: 'STOP' } : {}), index: 0 }],
        usageMetadata: geminiUsage(i + 1),
        modelVersion: model,
        responseId: 'bH6LaZW8Fp_3nsEPbench01',
      }),
    });
  }
  return events;
}

/** Gemini's SSE (`alt=sse`) separates events with CRLF line ends. */
export const GEMINI_SSE_SEPARATOR = '\r\n\r\n';
