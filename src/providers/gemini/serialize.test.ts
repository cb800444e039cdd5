import { describe, expect, it } from 'vitest';
import { serializeGeminiRequest } from './serialize';
import type { GeminiBlob, GenerateContentRequest } from './types';

const png: GeminiBlob = { mimeType: 'image/png', data: 'iVBORw0KGgoAAAANSUhEUg==' };
const jpeg: GeminiBlob = { mimeType: 'image/jpeg', data: '/9j/4AAQSkZJRg+/' };

const text = async (out: Blob | string) => (typeof out === 'string' ? out : out.text());

describe('serializeGeminiRequest', () => {
  it('is exactly JSON.stringify, images spliced in', async () => {
    const body: GenerateContentRequest = {
      contents: [
        { role: 'user', parts: [{ text: 'a "quoted" \u0000 text' }, { inlineData: png }, { text: 'b' }, { inlineData: jpeg }] },
        { role: 'model', parts: [{ text: 'c' }] },
        { role: 'user', parts: [{ inlineData: png }, { inlineData: { mimeType: 'audio/wav', data: 'needs "escaping"' } }] },
      ],
      generationConfig: { temperature: 0 },
    };
    const out = serializeGeminiRequest(body, [png, jpeg]);
    expect(out).toBeInstanceOf(Blob);
    expect(await text(out)).toBe(JSON.stringify(body));
  });

  it('a body without images is a plain string', () => {
    const body: GenerateContentRequest = { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] };
    expect(serializeGeminiRequest(body, [])).toBe(JSON.stringify(body));
  });

  it('text that imitates a marker stays text', async () => {
    const body: GenerateContentRequest = { contents: [{ role: 'user', parts: [{ text: '\u0000fake:0' }, { inlineData: png }] }] };
    expect(await text(serializeGeminiRequest(body, [png]))).toBe(JSON.stringify(body));
  });
});
