import { describe, expect, it } from 'vitest';
import { ModelFieldScanner } from '../../local-agent/src/model-field.js';
import { mergeConsecutiveRoles } from '../../local-agent/src/merge-roles.js';

function scan(text: string, chunkSize = Infinity) {
  const bytes = Buffer.from(text);
  const s = new ModelFieldScanner();
  for (let i = 0; i < bytes.length && s.result === undefined; i += Math.min(chunkSize, bytes.length)) s.feed(bytes.subarray(i, i + chunkSize));
  return s.result === undefined ? s.end() : s.result;
}

describe('ModelFieldScanner: the top-level "model" of a streamed JSON body', () => {
  const cases: [string, string, string | null][] = [
    ['first key', '{"model":"qwen","messages":[]}', 'qwen'],
    ['after messages', '{"messages":[{"role":"user","content":"model: \\"x\\""}],"model":"qwen"}', 'qwen'],
    ['nested model keys are ignored', '{"metadata":{"model":"inner"},"model":"outer"}', 'outer'],
    ['a value "model" is not a key', '{"x":"model","model":"m"}', 'm'],
    ['whitespace everywhere', '{ \n "model" :\t "m" }', 'm'],
    ['escapes in the value', '{"model":"a\\"b\\u00e9"}', 'a"bé'],
    ['unicode name', '{"model":"模型"}', '模型'],
    ['no model', '{"messages":[]}', null],
    ['model not a string', '{"model":42}', null],
    ['model null', '{"model":null}', null],
    ['model an object', '{"model":{"name":"x"}}', null],
    ['a top-level array', '[{"model":"x"}]', null],
    ['not JSON', 'model=x', null],
    ['empty body', '', null],
    ['escaped quote inside another string', '{"a":"\\"model\\":\\"no\\"","model":"yes"}', 'yes'],
  ];
  it.each(cases)('%s', (_n, text, expected) => expect(scan(text)).toBe(expected));
  it.each(cases)('%s, one byte at a time', (_n, text, expected) => expect(scan(text, 1)).toBe(expected));
  it.each(cases)('%s, 3 bytes at a time', (_n, text, expected) => expect(scan(text, 3)).toBe(expected));

  it.each([
    ['first key', '{"model":"qwen","messages":[]}'],
    ['after a long string with escapes', `{"messages":[{"content":"${'a\\"b'.repeat(50)}"}], "model" : "q\\u00e9n" }`],
    ['multibyte before it', '{"note":"模型模型","model":"m"}'],
  ])('gives where the value lies (%s), so the gateway can replace it', (_n, text) => {
    for (const size of [1, 5, Infinity]) {
      const bytes = Buffer.from(text);
      const s = new ModelFieldScanner();
      for (let i = 0; i < bytes.length && s.result === undefined; i += Math.min(size, bytes.length)) s.feed(bytes.subarray(i, i + size));
      expect(JSON.parse(bytes.subarray(s.valueStart, s.valueEnd).toString())).toBe(s.result);
      const replaced = Buffer.concat([bytes.subarray(0, s.valueStart), Buffer.from('"other"'), bytes.subarray(s.valueEnd)]);
      expect(JSON.parse(replaced.toString()).model).toBe('other');
    }
  });

  it('stops at the model without reading the rest', () => {
    const s = new ModelFieldScanner();
    expect(s.feed(Buffer.from('{"model":"m","messages":[{"role":"user","content":"'))).toBe('m');
  });
});

describe('mergeConsecutiveRoles', () => {
  it.each([
    ['user, user → one user', [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }], [{ role: 'user', content: 'a\n\nb' }]],
    ['string + parts', [{ role: 'user', content: 'a' }, { role: 'user', content: [{ type: 'image_url', image_url: { url: 'u' } }] }],
      [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image_url', image_url: { url: 'u' } }] }]],
    ['alternating unchanged', [{ role: 'system', content: 's' }, { role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }],
      [{ role: 'system', content: 's' }, { role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }]],
    ['tool messages never merged', [{ role: 'tool', tool_call_id: '1', content: 'x' }, { role: 'tool', tool_call_id: '2', content: 'y' }],
      [{ role: 'tool', tool_call_id: '1', content: 'x' }, { role: 'tool', tool_call_id: '2', content: 'y' }]],
    ['assistant with tool_calls kept apart', [{ role: 'assistant', content: 'a' }, { role: 'assistant', content: null, tool_calls: [{ id: '1' }] }],
      [{ role: 'assistant', content: 'a' }, { role: 'assistant', content: null, tool_calls: [{ id: '1' }] }]],
    ['three in a row', [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }, { role: 'user', content: 'c' }], [{ role: 'user', content: 'a\n\nb\n\nc' }]],
    ['empty', [], []],
  ] as [string, any[], any[]][])('%s', (_n, input, expected) => expect(mergeConsecutiveRoles(input)).toEqual(expected));
});
