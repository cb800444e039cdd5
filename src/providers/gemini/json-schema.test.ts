import { describe, expect, it } from 'vitest';
import type { RequestNotes } from '../provider';
import { toGeminiSchema } from './json-schema';

const convert = (schema: Record<string, unknown>) => {
  const notes: RequestNotes = { dropped: [], adapted: [] };
  const result = toGeminiSchema(schema, 's', notes);
  return { result, dropped: notes.dropped, adapted: notes.adapted };
};

describe('toGeminiSchema', () => {
  it.each<[string, Record<string, unknown>, unknown, string[]?, string[]?]>([
    [
      'object with typed properties',
      { type: 'object', properties: { a: { type: 'string', description: 'd' }, n: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['a'] },
      { type: 'OBJECT', properties: { a: { type: 'STRING', description: 'd' }, n: { type: 'INTEGER', minimum: 0, maximum: 9 } }, required: ['a'] },
    ],
    [
      'OpenAI strict-mode schema: additionalProperties false and $schema go silently',
      { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { x: { type: 'number' } }, required: ['x'], additionalProperties: false },
      { type: 'OBJECT', properties: { x: { type: 'NUMBER' } }, required: ['x'] },
    ],
    [
      'additionalProperties with a schema is reported',
      { type: 'object', properties: { m: { type: 'object', additionalProperties: { type: 'string' } } } },
      { type: 'OBJECT', properties: { m: { type: 'OBJECT' } } },
      ['s.properties.m.additionalProperties'],
    ],
    ['type with null → nullable', { type: ['string', 'null'] }, { type: 'STRING', nullable: true }],
    [
      'anyOf with a null branch → nullable',
      { anyOf: [{ type: 'integer' }, { type: 'null' }], description: 'maybe' },
      { type: 'INTEGER', description: 'maybe', nullable: true },
    ],
    [
      'anyOf of several types stays anyOf',
      { anyOf: [{ type: 'string' }, { type: 'number' }] },
      { anyOf: [{ type: 'STRING' }, { type: 'NUMBER' }] },
    ],
    [
      'oneOf becomes anyOf (reported)',
      { oneOf: [{ type: 'string' }, { type: 'boolean' }] },
      { anyOf: [{ type: 'STRING' }, { type: 'BOOLEAN' }] },
      [],
      ['s.oneOf=anyOf'],
    ],
    [
      'several types become anyOf branches',
      { type: ['string', 'integer', 'null'] },
      { anyOf: [{ type: 'STRING' }, { type: 'INTEGER' }], nullable: true },
    ],
    [
      'allOf merges objects (reported)',
      { allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { properties: { b: { type: 'boolean' } }, required: ['b'] }] },
      { type: 'OBJECT', properties: { a: { type: 'STRING' }, b: { type: 'BOOLEAN' } }, required: ['a', 'b'] },
      [],
      ['s.allOf=merged'],
    ],
    ['string const → one-value enum', { const: 'fixed' }, { enum: ['fixed'], type: 'STRING' }],
    ['numeric const is reported', { type: 'integer', const: 3 }, { type: 'INTEGER' }, ['s.const']],
    ['string enum with null', { enum: ['a', 'b', null] }, { enum: ['a', 'b'], type: 'STRING', nullable: true }],
    ['integer enum is reported', { type: 'integer', enum: [1, 2] }, { type: 'INTEGER' }, ['s.enum']],
    ['date-time format kept', { type: 'string', format: 'date-time' }, { type: 'STRING', format: 'date-time' }],
    [
      'other string formats move into the description (reported)',
      { type: 'string', format: 'email', description: 'Contact' },
      { type: 'STRING', description: 'Contact (format: email)' },
      [],
      ['s.format=description'],
    ],
    ['number formats', { type: 'number', format: 'double' }, { type: 'NUMBER', format: 'double' }],
    ['unknown integer format reported', { type: 'integer', format: 'uint8' }, { type: 'INTEGER' }, ['s.format']],
    [
      'unsupported constraints reported, supported ones kept',
      { type: 'array', items: { type: 'string', minLength: 1, pattern: '^a' }, minItems: 1, maxItems: 3, uniqueItems: true, contains: { const: 'x' } },
      { type: 'ARRAY', items: { type: 'STRING', minLength: 1, pattern: '^a' }, minItems: 1, maxItems: 3 },
      ['s.uniqueItems', 's.contains'],
    ],
    [
      'exclusive bounds and multipleOf reported',
      { type: 'number', exclusiveMinimum: 0, multipleOf: 0.5 },
      { type: 'NUMBER' },
      ['s.exclusiveMinimum', 's.multipleOf'],
    ],
    [
      'annotations removed silently',
      { type: 'string', examples: ['x'], $comment: 'c', readOnly: true, deprecated: false, title: 'T' },
      { type: 'STRING', title: 'T' },
    ],
    [
      'implicit types are spelled out',
      { properties: { list: { items: { enum: ['x'] } } } },
      { type: 'OBJECT', properties: { list: { type: 'ARRAY', items: { enum: ['x'], type: 'STRING' } } } },
    ],
    [
      '$defs references are inlined',
      {
        type: 'object',
        properties: { home: { $ref: '#/$defs/Address' }, work: { $ref: '#/definitions/Address', description: 'office' } },
        $defs: { Address: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
        definitions: { Address: { type: 'object', properties: { city: { type: 'string' } } } },
      },
      {
        type: 'OBJECT',
        properties: {
          home: { type: 'OBJECT', properties: { city: { type: 'STRING' } }, required: ['city'] },
          work: { type: 'OBJECT', properties: { city: { type: 'STRING' } }, description: 'office' },
        },
      },
    ],
    [
      'a recursive $ref is expanded once, then cut (reported)',
      { type: 'object', properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#' } } } },
      {
        type: 'OBJECT',
        properties: {
          name: { type: 'STRING' },
          children: {
            type: 'ARRAY',
            items: { type: 'OBJECT', properties: { name: { type: 'STRING' }, children: { type: 'ARRAY', items: { type: 'OBJECT' } } } },
          },
        },
      },
      ['s.properties.children.items.$ref'],
    ],
    [
      'notes inside a referenced definition name the definition, once',
      { type: 'object', properties: { a: { $ref: '#/$defs/Mail' }, b: { $ref: '#/$defs/Mail' } }, $defs: { Mail: { type: 'string', format: 'email' } } },
      { type: 'OBJECT', properties: { a: { type: 'STRING', description: 'Format: email' }, b: { type: 'STRING', description: 'Format: email' } } },
      [],
      ['s.$defs.Mail.format=description'],
    ],
    ['a remote $ref is reported', { $ref: 'https://example.com/schema.json' }, {}, ['s.$ref']],
    ['pointer escapes', { $defs: { 'a/b': { type: 'boolean' } }, $ref: '#/$defs/a~1b' }, { type: 'BOOLEAN' }],
    ['tuple items reported', { type: 'array', items: [{ type: 'string' }] }, { type: 'ARRAY' }, ['s.items']],
    ['unknown type reported', { type: 'bigint' }, {}, ['s.type']],
    ['default and example kept', { type: 'integer', default: 3, example: 4 }, { type: 'INTEGER', default: 3, example: 4 }],
    ['if/then/else and not reported', { type: 'string', if: {}, then: {}, not: {} }, { type: 'STRING' }, ['s.if', 's.then', 's.not']],
  ])('%s', (_name, schema, expected, dropped = [], adapted = []) => {
    const out = convert(schema);
    expect(out.result).toEqual(expected);
    expect(out.dropped).toEqual(dropped);
    expect(out.adapted).toEqual(adapted);
  });

  it('caps the notes of one sprawling schema', () => {
    const properties = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`p${i}`, { type: 'number', multipleOf: 2 }]));
    const { dropped } = convert({ type: 'object', properties });
    expect(dropped).toHaveLength(21);
    expect(dropped.at(-1)).toBe('s (+10 more)');
  });

  it('refuses absurdly deep nesting with a 400 naming the schema', () => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 100; i++) schema = { type: 'array', items: schema };
    expect(() => convert(schema)).toThrowError(expect.objectContaining({ status: 400, param: 's' }));
  });

  it('does not mutate its input', () => {
    const schema = { type: ['string', 'null'], format: 'email' };
    const copy = structuredClone(schema);
    convert(schema);
    expect(schema).toEqual(copy);
  });
});
