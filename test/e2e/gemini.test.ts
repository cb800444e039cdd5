import OpenAI from 'openai';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, TEST_GATEWAY_KEY, type Gateway } from '../helpers/gateway';
import { assertChatCompletion, assertChatCompletionChunk, collectValidChunks, assertErrorResponse } from '../helpers/schema';
import { GEMINI_TEST_KEY, geminiFixture, startGeminiMock, type GeminiMock } from '../upstreams/gemini';
import { fixtureLines, MockServer } from '../upstreams/mock-server';

// The real Worker in workerd, driven by the real openai SDK, against the Gemini mock
// (which rejects what the live API rejects) and a local image server.

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;
type Message = OpenAI.Chat.Completions.ChatCompletionMessageParam;

// Minimal images: the signature bytes and a little more (the mock decodes only the header, as sniffing does).
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
const WEBP = Buffer.from([0x52, 0x49, 0x46, 0x46, 0x1a, 0, 0, 0, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4c, 0x0d, 0, 0, 0]);
const dataUrl = (label: string, bytes: Buffer) => `data:${label};base64,${bytes.toString('base64')}`;

let mock: GeminiMock;
let images: MockServer;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  mock = await startGeminiMock();
  images = await MockServer.start((req, res: ServerResponse) => {
    const send = (status: number, type: string, body: Buffer | string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.path === '/screenshot.png') return send(200, 'image/jpeg', PNG); // mislabelled, as servers do
    if (req.path === '/photo') return send(200, 'application/octet-stream', JPEG);
    if (req.path === '/login') return send(200, 'text/html; charset=utf-8', '<html>please log in</html>');
    return send(404, 'text/plain', 'not found');
  });
  gateway = await startGateway({
    MODELS: JSON.stringify({
      'gemini-flash': {
        target: 'gemini/gemini-2.5-flash',
        safety_settings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', threshold: 'BLOCK_ONLY_HIGH' }],
      },
      'gemini-3': { target: 'gemini/gemini-3-pro-preview' },
      gemma: { target: 'gemini/gemma-3-27b-it' },
    }),
    GEMINI_API_KEY: GEMINI_TEST_KEY,
    GEMINI_BASE_URL: mock.url,
  });
  client = new OpenAI({ apiKey: TEST_GATEWAY_KEY, baseURL: gateway.baseURL, maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await mock?.close();
  await images?.close();
});

beforeEach(() => {
  mock.server.reset();
  mock.script.length = 0;
});

const collect = collectValidChunks;

const text = (chunks: Chunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

/** A raw request, for status codes and headers the SDK hides. */
const post = (body: unknown) =>
  fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('Gemini: requests and answers', () => {
  it('translates a plain request and its answer', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: 'gemini-flash',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'developer', content: 'Use English.' },
          { role: 'user', content: 'hello' },
        ],
        temperature: 0.2,
        top_p: 0.9,
        max_tokens: 64,
        frequency_penalty: 0.5,
        stop: ['END'],
        seed: 7,
        user: 'agent-17',
        logit_bias: { '50256': -100 },
      })
      .withResponse();
    assertChatCompletion(data);
    expect(data.choices[0]).toMatchObject({ index: 0, message: { role: 'assistant', content: 'echo: hello' }, finish_reason: 'stop' });
    expect(data.model).toBe('gemini-2.5-flash');
    expect(data.usage?.total_tokens).toBe((data.usage?.prompt_tokens ?? 0) + (data.usage?.completion_tokens ?? 0));
    // Gemini 2.5 refuses penalties ("Penalty is not enabled for models/…"): dropped by the model table.
    expect(response.headers.get('x-switchboard-dropped-params')).toBe('frequency_penalty, user, logit_bias');

    const sent = mock.server.last;
    expect(sent.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(sent.headers['x-goog-api-key']).toBe(GEMINI_TEST_KEY);
    expect(sent.query.get('key')).toBeNull();
    expect(sent.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'hello' }] }],
      systemInstruction: { parts: [{ text: 'Be brief.' }, { text: 'Use English.' }] },
      generationConfig: { temperature: 0.2, topP: 0.9, maxOutputTokens: 64, stopSequences: ['END'], seed: 7 },
      safetySettings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', threshold: 'BLOCK_ONLY_HIGH' }],
    });
  });

  it('streams with async iteration and a final usage chunk', async () => {
    const chunks = await collect(
      await client.chat.completions.create({
        model: 'gemini/gemini-2.5-flash',
        messages: [{ role: 'user', content: 'one two three' }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    expect(text(chunks)).toBe('echo: one two three');
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.at(-2)?.choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBeGreaterThan(0);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(mock.server.last.path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent');
    expect(mock.server.last.query.get('alt')).toBe('sse');
  });

  it('forwards each chunk as it arrives, and stops Gemini when the client leaves', async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const words = Array.from({ length: 40 }, (_, i) => ({ candidates: [{ content: { role: 'model', parts: [{ text: `w${i} ` }] }, index: 0 }], responseId: 'r' }));
    mock.script.push({ sse: words, holdAfter: 1, hold, delayMs: 25 });
    const stream = await client.chat.completions.create({ model: 'gemini-3', messages: [{ role: 'user', content: 'x' }], stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    // Gemini has sent one event and holds the rest: that event must already be here.
    const first = await iterator.next();
    expect(first.value?.choices[0].delta.content).toBe('w0 ');
    await iterator.return?.();
    // The runtime notices the client is gone at the next write; from then on the
    // gateway must cancel the upstream request rather than read the stream to its end.
    release();
    while (mock.cancelledStreams === 0) await new Promise((r) => setTimeout(r, 5));
    expect(mock.cancelledStreams).toBe(1);
  });

  it('streams through the SDK stream() helper', async () => {
    const final = await client.chat.completions.stream({ model: 'gemini-flash', messages: [{ role: 'user', content: 'helper works' }] }).finalChatCompletion();
    expect(final.choices[0].message.content).toBe('echo: helper works');
    expect(final.choices[0].finish_reason).toBe('stop');
  });

  it('answers n > 1 with one choice per candidate', async () => {
    const completion = await client.chat.completions.create({ model: 'gemini-flash', messages: [{ role: 'user', content: 'x' }], n: 2 });
    assertChatCompletion(completion);
    expect(completion.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(mock.server.last.body.generationConfig).toEqual({ candidateCount: 2 });
  });

  it('sends several images in order with the text, typed by their bytes', async () => {
    await client.chat.completions.create({
      model: 'gemini-flash',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Step 1:' },
            { type: 'image_url', image_url: { url: dataUrl('image/jpeg', PNG) } },
            { type: 'text', text: 'Step 2:' },
            { type: 'image_url', image_url: { url: dataUrl('image/jpeg', JPEG), detail: 'high' } },
            { type: 'image_url', image_url: { url: dataUrl('image/png', WEBP) } },
            { type: 'text', text: 'What changed?' },
          ],
        },
      ],
    });
    expect(mock.server.last.body.contents).toEqual([
      {
        role: 'user',
        parts: [
          { text: 'Step 1:' },
          { inlineData: { mimeType: 'image/png', data: PNG.toString('base64') } },
          { text: 'Step 2:' },
          { inlineData: { mimeType: 'image/jpeg', data: JPEG.toString('base64') } },
          { inlineData: { mimeType: 'image/webp', data: WEBP.toString('base64') } },
          { text: 'What changed?' },
        ],
      },
    ]);
  });

  it('fetches http image URLs itself and inlines them', async () => {
    await client.chat.completions.create({
      model: 'gemini-flash',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: `${images.url}/screenshot.png` } },
            { type: 'text', text: 'and' },
            { type: 'image_url', image_url: { url: `${images.url}/photo` } },
          ],
        },
      ],
    });
    expect(mock.server.last.body.contents[0].parts).toEqual([
      { inlineData: { mimeType: 'image/png', data: PNG.toString('base64') } },
      { text: 'and' },
      { inlineData: { mimeType: 'image/jpeg', data: JPEG.toString('base64') } },
    ]);
  });

  it.each([
    ['/missing.png', 'HTTP 404'],
    ['/login', 'text/html, not an image'],
  ])('answers an image URL that does not give an image (%s) with a 400 naming the part', async (path, why) => {
    const res = await post({
      model: 'gemini-flash',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: `${images.url}${path}` } }] }],
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    assertErrorResponse(body);
    expect(body.error).toMatchObject({ param: 'messages[0].content[1].image_url.url', code: 'invalid_image_url' });
    expect(body.error.message).toContain(why);
    expect(mock.server.requests).toHaveLength(0);
  });

  it('folds the system prompt into the first user turn for Gemma, and says so', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gemma', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }] })
      .withResponse();
    expect(data.choices[0].message.content).toBe('echo: Be brief. hi');
    expect(mock.server.last.body.systemInstruction).toBeUndefined();
    expect(mock.server.last.body.contents).toEqual([{ role: 'user', parts: [{ text: 'Be brief.' }, { text: 'hi' }] }]);
    expect(response.headers.get('x-switchboard-adapted')).toBe('system_instruction=first_user_turn');
  });

  it('asks for JSON with a converted response schema, naming what it could not convert', async () => {
    const { response } = await client.chat.completions
      .create({
        model: 'gemini-flash',
        messages: [{ role: 'user', content: 'list' }],
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'items',
            strict: true,
            schema: {
              type: 'object',
              properties: { items: { type: 'array', items: { $ref: '#/$defs/item' }, uniqueItems: true } },
              required: ['items'],
              additionalProperties: false,
              $defs: { item: { type: 'object', properties: { name: { type: 'string' }, note: { type: ['string', 'null'] } }, required: ['name'], additionalProperties: false } },
            },
          },
        },
      })
      .withResponse();
    expect(mock.server.last.body.generationConfig).toEqual({
      responseMimeType: 'application/json',
      responseSchema: {
        type: 'OBJECT',
        properties: {
          items: { type: 'ARRAY', items: { type: 'OBJECT', properties: { name: { type: 'STRING' }, note: { type: 'STRING', nullable: true } }, required: ['name'] } },
        },
        required: ['items'],
      },
    });
    expect(response.headers.get('x-switchboard-dropped-params')).toBe('response_format.json_schema.schema.properties.items.uniqueItems');
  });
});

describe('Gemini: tools', () => {
  const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
    {
      type: 'function',
      function: {
        name: 'weather',
        description: 'Current weather',
        parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'], additionalProperties: false },
        strict: true,
      },
    },
  ];

  it('makes a full round trip: call → result → answer, with the thought signature carried back', async () => {
    mock.script.push({ fixture: 'google-tool-call.json' });
    const question: Message = { role: 'user', content: 'Weather in San Francisco?' };
    const first = await client.chat.completions.create({ model: 'gemini-3', messages: [question], tools, tool_choice: 'auto' });
    assertChatCompletion(first);
    const call = first.choices[0].message.tool_calls?.[0];
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    expect(call).toMatchObject({ id: 'call_m36LaZGyCLz1xs0PtNSB-QU_0_0', type: 'function', function: { name: 'weather', arguments: '{"location":"San Francisco"}' } });
    expect(mock.server.last.body.tools).toEqual([
      { functionDeclarations: [{ name: 'weather', description: 'Current weather', parameters: { type: 'OBJECT', properties: { location: { type: 'STRING' } }, required: ['location'] } }] },
    ]);
    expect(mock.server.last.body.toolConfig).toEqual({ functionCallingConfig: { mode: 'AUTO' } });

    // The assistant message goes back exactly as received, as agent loops do.
    const second = await client.chat.completions.create({
      model: 'gemini-3',
      messages: [question, first.choices[0].message as Message, { role: 'tool', tool_call_id: call!.id, content: '{"temp_c":18,"sky":"fog"}' }],
      tools,
    });
    expect(second.choices[0].message.content).toBe('echo: weather → {"temp_c":18,"sky":"fog"}');
    const signature = JSON.parse(geminiFixture('google-tool-call.json')).candidates[0].content.parts[0].thoughtSignature;
    expect(mock.server.last.body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in San Francisco?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'weather', args: { location: 'San Francisco' } }, thoughtSignature: signature }] },
      { role: 'user', parts: [{ functionResponse: { name: 'weather', response: { temp_c: 18, sky: 'fog' } } }] },
    ]);
  });

  it('streams a recorded tool call through the stream() helper', async () => {
    mock.script.push({ fixture: 'google-tool-call.chunks.txt' });
    const final = await client.chat.completions.stream({ model: 'gemini-3', messages: [{ role: 'user', content: 'SF?' }], tools }).finalChatCompletion();
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    expect(final.choices[0].message.tool_calls).toHaveLength(1);
    expect(final.choices[0].message.tool_calls?.[0]).toMatchObject({
      id: 'call_b36LacjwM668nsEP2tbsgQQ_0_0',
      type: 'function',
      function: { name: 'weather', arguments: '{"location":"San Francisco"}' },
      // kept by the helper, so the message can go back with its signature
      extra_content: { google: { thought_signature: expect.stringMatching(/^EqUCCqICAb4/) } },
    });
  });

  it('fills a thought signature the client dropped with Google’s placeholder, and says so', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: 'gemini-3',
        messages: [
          { role: 'user', content: 'SF?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"location":"SF"}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: 'foggy' },
        ],
        tools,
      })
      .withResponse();
    expect(data.choices[0].message.content).toBe('echo: weather → {"content":"foggy"}');
    expect(mock.server.last.body.contents[1].parts[0].thoughtSignature).toBe('skip_thought_signature_validator');
    expect(response.headers.get('x-switchboard-adapted')).toBe('tool_calls.thought_signature=skip_thought_signature_validator');
  });

  it('maps tool_choice to a named function', async () => {
    await client.chat.completions.create({ model: 'gemini-flash', messages: [{ role: 'user', content: 'x' }], tools, tool_choice: { type: 'function', function: { name: 'weather' } } });
    expect(mock.server.last.body.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['weather'] } });
  });

  it('answers a tool result whose id matches no call with a 400 naming the message', async () => {
    const res = await post({
      model: 'gemini-flash',
      messages: [
        { role: 'user', content: 'x' },
        { role: 'tool', tool_call_id: 'call_unknown', content: 'r' },
      ],
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    assertErrorResponse(body);
    expect(body.error).toMatchObject({ param: 'messages[1].tool_call_id', code: 'invalid_tool_call_id' });
    expect(mock.server.requests).toHaveLength(0);
  });
});

describe('Gemini: recorded responses', () => {
  it.each(['google-text.json', 'google-tool-call.json'])('%s', async (fixture) => {
    mock.script.push({ fixture });
    const res = await post({ model: 'gemini-3', messages: [{ role: 'user', content: 'x' }] });
    expect(res.status).toBe(200);
    const body = await res.json();
    assertChatCompletion(body);
    expect(body.id).toBe(`chatcmpl-${JSON.parse(geminiFixture(fixture)).responseId}`);
  });

  it.each(['google-text.chunks.txt', 'google-tool-call.chunks.txt'])('%s', async (fixture) => {
    mock.script.push({ fixture });
    const chunks = await collect(
      await client.chat.completions.create({ model: 'gemini-3', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } }),
    );
    const recorded = fixtureLines(geminiFixture(fixture)).map((l) => JSON.parse(l));
    expect(chunks.at(-1)?.usage?.total_tokens).toBe(recorded.at(-1).usageMetadata.totalTokenCount);
    if (fixture === 'google-text.chunks.txt') expect(text(chunks)).toBe('There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y');
  });

  it('issue-19758-prompt-block.json: a blocked prompt is a 400 content_filter', async () => {
    mock.script.push({ fixture: 'issue-19758-prompt-block.json' });
    const err = await client.chat.completions.create({ model: 'gemini-flash', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe('content_filter');
    expect(err.message).toContain('PROHIBITED_CONTENT');
  });

  it('issue-19758-prompt-block.json in a stream: the same 400, before any chunk', async () => {
    mock.script.push({ fixture: 'issue-19758-prompt-block.json' });
    const res = await post({ model: 'gemini-flash', messages: [{ role: 'user', content: 'x' }], stream: true });
    expect(res.status).toBe(400);
    const body = await res.json();
    assertErrorResponse(body);
    expect(body.error.code).toBe('content_filter');
  });

  it('google-429-retry-info.json: 429 with retry-after from RetryInfo', async () => {
    mock.script.push({ fixture: 'google-429-retry-info.json' });
    const err = await client.chat.completions.create({ model: 'gemini-flash', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.headers.get('retry-after')).toBe('35');
    expect(err.message).toContain('You exceeded your current quota');
  });
});

describe('Gemini: errors', () => {
  const googleError = (code: number, status: string, message: string) => ({ status: code, body: { error: { code, message, status } } });

  it.each([
    [googleError(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.'), 400, 'upstream_rejected_request', 'Request contains an invalid argument.'],
    [googleError(500, 'INTERNAL', 'An internal error has occurred.'), 502, 'upstream_error', 'An internal error has occurred.'],
    [googleError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'), 503, 'upstream_unavailable', 'overloaded'],
    [googleError(403, 'PERMISSION_DENIED', 'Permission denied.'), 502, 'upstream_auth_failed', 'credentials for Gemini were rejected'],
  ])('maps Gemini %j', async (scripted, status, code, message) => {
    mock.script.push(scripted);
    const res = await post({ model: 'gemini-flash', messages: [{ role: 'user', content: 'x' }] });
    expect(res.status).toBe(status);
    const body = await res.json();
    assertErrorResponse(body);
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain(message);
  });

  it('passes on a request the real API rejects, with its message', async () => {
    const res = await post({ model: 'gemini/no-such-model', messages: [{ role: 'user', content: 'x' }] });
    expect(res.status).toBe(404);
    const body = await res.json();
    expect(body.error.code).toBe('not_found');
    expect(body.error.message).toContain('models/no-such-model is not found');
  });

  it('reports a key Gemini rejects (400 API_KEY_INVALID) as the gateway’s problem without echoing it', async () => {
    const bad = await startGateway({ GEMINI_API_KEY: 'AIzaSyWRONG-key-99999999999', GEMINI_BASE_URL: mock.url });
    try {
      const res = await fetch(`${bad.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}` },
        body: JSON.stringify({ model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'x' }] }),
      });
      expect(res.status).toBe(502);
      const raw = await res.text();
      expect(raw).not.toContain('WRONG');
      expect(raw).not.toContain('9999');
      expect(JSON.parse(raw).error.code).toBe('upstream_auth_failed');
    } finally {
      await bad.close();
    }
  });

  it('ends a stream cut mid-way with an error chunk the SDK raises', async () => {
    mock.script.push({ sse: fixtureLines(geminiFixture('google-text.chunks.txt')), abortAfter: 2 });
    const stream = await client.chat.completions.create({ model: 'gemini-3', messages: [{ role: 'user', content: 'x' }], stream: true });
    const seen: Chunk[] = [];
    const err = await (async () => {
      for await (const c of stream) seen.push(c);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toMatch(/Gemini/);
    expect(text(seen)).toBe('There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y');
  });

  it('ends a stream with an error chunk when Gemini reports an error mid-stream', async () => {
    const lines = fixtureLines(geminiFixture('google-text.chunks.txt'));
    mock.script.push({ sse: [lines[0], { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } }] });
    const res = await post({ model: 'gemini-3', messages: [{ role: 'user', content: 'x' }], stream: true });
    expect(res.status).toBe(200);
    const events = (await res.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const last = JSON.parse(events.at(-2)!.slice(6));
    assertChatCompletionChunk(last);
    expect(last.error).toMatchObject({ code: 'upstream_unavailable', message: expect.stringContaining('overloaded') });
  });

  it('answers an error before the first chunk with an HTTP status, not a 200 stream', async () => {
    mock.script.push({ sse: [{ error: { code: 500, message: 'An internal error has occurred.', status: 'INTERNAL' } }] });
    const res = await post({ model: 'gemini-flash', messages: [{ role: 'user', content: 'x' }], stream: true });
    expect(res.status).toBe(502);
    assertErrorResponse(await res.json());
  });
});

describe('the Gemini mock rejects what the real API rejects', () => {
  const ok = { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] };
  const call = (body: unknown, model = 'gemini-2.5-flash', headers: Record<string, string> = { 'x-goog-api-key': GEMINI_TEST_KEY }) =>
    fetch(`${mock.url}/v1beta/models/${model}:generateContent`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const turn = (role: string, parts: unknown[]) => ({ role, parts });

  it.each<[string, unknown, string, string?]>([
    ['an unknown field', { ...ok, generationConfig: { max_tokens: 5 } }, 'Unknown name "max_tokens" at \'generation_config\''],
    ['a JSON-Schema keyword', { ...ok, tools: [{ functionDeclarations: [{ name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false } }] }] }, 'Unknown name "additionalProperties"'],
    ['a role other than user / model', { contents: [turn('assistant', [{ text: 'x' }])] }, 'Please use a valid role: user, model.'],
    ['empty parts', { contents: [turn('user', [])] }, 'contents.parts must not be empty'],
    ['an empty text part', { contents: [turn('user', [{ text: '' }])] }, "required oneof field 'data'"],
    ['a functionResponse without a name', { contents: [turn('user', [{ text: 'q' }]), turn('model', [{ functionCall: { name: 'f' } }]), turn('user', [{ functionResponse: { response: {} } }])] }, 'function_response.name: Name cannot be empty'],
    ['a non-object functionResponse.response', { contents: [turn('user', [{ text: 'q' }]), turn('model', [{ functionCall: { name: 'f' } }]), turn('user', [{ functionResponse: { name: 'f', response: 'text' } }])] }, 'google.protobuf.Struct'],
    ['unanswered function calls', { contents: [turn('user', [{ text: 'q' }]), turn('model', [{ functionCall: { name: 'f' } }, { functionCall: { name: 'g' } }]), turn('user', [{ functionResponse: { name: 'f', response: {} } }])] }, 'number of function response parts'],
    ['a Gemini 3 function call without its signature', { contents: [turn('user', [{ text: 'q' }]), turn('model', [{ functionCall: { name: 'f' } }]), turn('user', [{ functionResponse: { name: 'f', response: {} } }])] }, 'missing a thought_signature', 'gemini-3-pro-preview'],
    ['a thought signature that is not base64', { contents: [turn('user', [{ text: 'q' }]), turn('model', [{ text: 'a', thoughtSignature: 'not base64!' }])] }, "thought_signature' (TYPE_BYTES)"],
    ['image bytes that are no image', { contents: [turn('user', [{ inlineData: { mimeType: 'image/png', data: Buffer.from('hello world').toString('base64') } }])] }, 'Unable to process input image'],
    ['a system instruction for Gemma', { ...ok, systemInstruction: { parts: [{ text: 's' }] } }, 'Developer instruction is not enabled for models/gemma-3-27b-it', 'gemma-3-27b-it'],
    ['an OBJECT without properties as parameters', { ...ok, tools: [{ functionDeclarations: [{ name: 'f', parameters: { type: 'OBJECT', properties: {} } }] }] }, 'should be non-empty for OBJECT type'],
  ])('%s', async (_name, body, message, model) => {
    const res = await call(body, model);
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(error.message).toContain(message);
  });

  it('accepts a well-formed request, the key in x-goog-api-key or ?key=', async () => {
    expect((await call(ok)).status).toBe(200);
    const res = await fetch(`${mock.url}/v1beta/models/gemini-2.5-flash:generateContent?key=${GEMINI_TEST_KEY}`, { method: 'POST', body: JSON.stringify(ok) });
    expect(res.status).toBe(200);
  });

  it('answers a missing key with 403 and a wrong one with 400 API_KEY_INVALID', async () => {
    expect((await (await call(ok, undefined, {})).json()).error).toMatchObject({ code: 403, status: 'PERMISSION_DENIED' });
    const { error } = await (await call(ok, undefined, { 'x-goog-api-key': 'AIzaWrong' })).json();
    expect(error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT', details: [expect.objectContaining({ reason: 'API_KEY_INVALID' }), expect.anything()] });
  });

  it('streams with CRLF-framed SSE events, or one JSON array without alt=sse', async () => {
    const url = `${mock.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent`;
    const init = { method: 'POST', headers: { 'x-goog-api-key': GEMINI_TEST_KEY }, body: JSON.stringify(ok) };
    const sse = await (await fetch(`${url}?alt=sse`, init)).text();
    expect(sse).toMatch(/^data: \{.*\}\r\n\r\n/);
    expect(sse.split('\r\n\r\n').filter(Boolean).every((e) => e.startsWith('data: {'))).toBe(true);
    expect(Array.isArray(await (await fetch(url, init)).json())).toBe(true);
  });
});
