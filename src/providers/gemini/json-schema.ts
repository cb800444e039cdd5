import { badRequest } from '../../openai/errors';
import type { RequestNotes } from '../provider';
import type { GeminiSchema } from './types';

// JSON Schema (what OpenAI clients send for tool parameters and json_schema response
// formats) → Gemini's Schema, a subset of OpenAPI 3.0. Gemini rejects any field it
// does not know ("Unknown name ... Cannot find field", 400), so everything is either
// converted, or removed and reported in the request notes (the
// x-switchboard-dropped-params / x-switchboard-adapted headers):
//   - local $refs (#/$defs/…, #/definitions/…, #) are inlined; a recursive one is cut
//     after one level to a plain OBJECT (reported);
//   - type: [T, "null"], anyOf/oneOf with a {type: null} branch → nullable;
//   - oneOf → anyOf, allOf → one merged schema, string formats other than date-time
//     and enum → a hint in the description (reported as adapted);
//   - const → a one-value enum; enums of non-strings cannot be expressed (reported);
//   - additionalProperties: false is removed silently: Gemini generates only the
//     declared properties anyway; any other additionalProperties is reported;
//   - annotations that constrain nothing ($schema, $id, $comment, examples, readOnly, …)
//     are removed silently; every other unsupported keyword is reported.

type Json = Record<string, unknown>;

const TYPES: Record<string, NonNullable<GeminiSchema['type']>> = {
  string: 'STRING',
  number: 'NUMBER',
  integer: 'INTEGER',
  boolean: 'BOOLEAN',
  array: 'ARRAY',
  object: 'OBJECT',
  null: 'NULL',
};

const NUMERIC_KEYWORDS = ['minItems', 'maxItems', 'minLength', 'maxLength', 'minProperties', 'maxProperties', 'minimum', 'maximum'] as const;
const ANNOTATIONS = new Set([
  '$schema', '$id', '$comment', '$anchor', '$dynamicAnchor', '$vocabulary', '$defs', 'definitions',
  'examples', 'readOnly', 'writeOnly', 'deprecated', 'contentEncoding', 'contentMediaType',
]);
const FORMATS: Partial<Record<NonNullable<GeminiSchema['type']>, string[]>> = {
  STRING: ['date-time', 'enum'],
  NUMBER: ['float', 'double'],
  INTEGER: ['int32', 'int64'],
};
/** Deeper than any real schema; guards the recursion against hostile input. */
const MAX_DEPTH = 64;
/** Notes per schema, so one sprawling schema cannot flood the response headers. */
const MAX_NOTES = 20;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * @param at where the schema sits in the request (e.g. `tools[0].function.parameters`),
 *   the prefix of every note and error
 */
export function toGeminiSchema(schema: Json, at: string, notes: RequestNotes): GeminiSchema {
  const converter = new SchemaConverter(schema, at);
  const result = converter.convert(schema, at, [], 0);
  report(converter.dropped, notes.dropped, at);
  report(converter.adapted, notes.adapted, at);
  return result;
}

function report(found: Set<string>, into: string[], at: string) {
  const list = [...found];
  into.push(...list.slice(0, MAX_NOTES));
  if (list.length > MAX_NOTES) into.push(`${at} (+${list.length - MAX_NOTES} more)`);
}

class SchemaConverter {
  readonly dropped = new Set<string>();
  readonly adapted = new Set<string>();

  constructor(
    private readonly root: Json,
    private readonly at: string,
  ) {}

  convert(node: unknown, path: string, refs: string[], depth: number): GeminiSchema {
    if (depth > MAX_DEPTH) throw badRequest(`${this.at} is nested too deeply (more than ${MAX_DEPTH} levels).`, this.at, 'invalid_schema');
    if (node === true) return {};
    if (!isObject(node)) {
      this.dropped.add(path);
      return {};
    }
    if (typeof node.$ref === 'string') return this.convertRef(node, path, refs, depth);

    const out: GeminiSchema = {};
    let nullable = node.nullable === true;

    let types = node.type === undefined ? [] : Array.isArray(node.type) ? node.type : [node.type];
    if (types.includes('null') && types.length > 1) {
      nullable = true;
      types = types.filter((t) => t !== 'null');
    }
    if (types.length > 1) {
      // ["string", "number"]: one branch per type, each with the rest of the keywords.
      const anyOf = types.map((t, i) => this.convert({ ...node, type: t }, `${path}.type[${i}]`, refs, depth + 1));
      return withNullable({ ...(typeof node.description === 'string' ? { description: node.description } : {}), anyOf }, nullable);
    }
    if (types.length === 1) {
      const type = typeof types[0] === 'string' ? TYPES[types[0]] : undefined;
      if (type) out.type = type;
      else this.dropped.add(`${path}.type`);
    }

    for (const [key, value] of Object.entries(node)) {
      switch (key) {
        case 'type':
        case 'nullable':
        case 'format': // after the type is known, below
          break;
        case 'title':
        case 'description':
        case 'pattern':
          if (typeof value === 'string') out[key] = value;
          else this.dropped.add(`${path}.${key}`);
          break;
        case 'default':
        case 'example':
          out[key] = value;
          break;
        case 'propertyOrdering':
        case 'required':
          if (Array.isArray(value) && value.every((v) => typeof v === 'string')) out[key] = value as string[];
          else this.dropped.add(`${path}.${key}`);
          break;
        case 'properties':
          if (!isObject(value)) {
            this.dropped.add(`${path}.properties`);
            break;
          }
          out.properties = {};
          for (const [name, sub] of Object.entries(value)) {
            out.properties[name] = this.convert(sub, `${path}.properties.${name}`, refs, depth + 1);
          }
          break;
        case 'items':
          if (isObject(value) || value === true) out.items = this.convert(value, `${path}.items`, refs, depth + 1);
          else this.dropped.add(`${path}.items`); // tuple form: Gemini has one item schema
          break;
        case 'enum': {
          if (!Array.isArray(value)) {
            this.dropped.add(`${path}.enum`);
            break;
          }
          if (value.includes(null)) nullable = true;
          const values = value.filter((v) => v !== null);
          if (values.every((v) => typeof v === 'string')) out.enum = values as string[];
          else this.dropped.add(`${path}.enum`);
          break;
        }
        case 'const':
          if (typeof value === 'string') out.enum = [value];
          else if (value === null) nullable = true;
          else this.dropped.add(`${path}.const`);
          break;
        case 'anyOf':
        case 'oneOf': {
          if (!Array.isArray(value)) {
            this.dropped.add(`${path}.${key}`);
            break;
          }
          if (key === 'oneOf') this.adapted.add(`${path}.oneOf=anyOf`);
          let branches = value.map((v, i) => this.convert(v, `${path}.${key}[${i}]`, refs, depth + 1));
          if (branches.some((b) => b.type === 'NULL')) {
            nullable = true;
            branches = branches.filter((b) => b.type !== 'NULL');
          }
          if (branches.length === 1) mergeInto(out, branches[0]);
          else if (branches.length > 1) out.anyOf = [...(out.anyOf ?? []), ...branches];
          break;
        }
        case 'allOf': {
          if (!Array.isArray(value)) {
            this.dropped.add(`${path}.allOf`);
            break;
          }
          if (value.length > 1) this.adapted.add(`${path}.allOf=merged`);
          value.forEach((v, i) => mergeInto(out, this.convert(v, `${path}.allOf[${i}]`, refs, depth + 1)));
          break;
        }
        case 'additionalProperties':
          if (value !== false) this.dropped.add(`${path}.additionalProperties`);
          break;
        default:
          if ((NUMERIC_KEYWORDS as readonly string[]).includes(key) && typeof value === 'number') {
            out[key as (typeof NUMERIC_KEYWORDS)[number]] = value;
          } else if (!ANNOTATIONS.has(key)) {
            this.dropped.add(`${path}.${key}`);
          }
      }
    }

    if (!out.type && !out.anyOf) {
      // Type left implicit, as JSON Schema allows; Gemini wants it spelled out.
      if (out.properties || out.required) out.type = 'OBJECT';
      else if (out.items) out.type = 'ARRAY';
      else if (out.enum) out.type = 'STRING';
    }
    if (node.format !== undefined) this.convertFormat(out, node.format, path);
    return withNullable(out, nullable);
  }

  private convertRef(node: Json, path: string, refs: string[], depth: number): GeminiSchema {
    const ref = node.$ref as string;
    const { $ref: _ref, ...siblings } = node;
    const own = Object.keys(siblings).length > 0 ? this.convert(siblings, path, refs, depth + 1) : {};
    if (refs.includes(ref)) {
      // A recursive type (a tree, a linked list) cannot be inlined: cut it here.
      this.dropped.add(`${path}.$ref`);
      return { type: 'OBJECT', ...own };
    }
    const target = resolvePointer(this.root, ref);
    if (target === undefined) {
      this.dropped.add(`${path}.$ref`);
      return own;
    }
    // Keywords beside the $ref (a description, say) refine the referenced schema. Notes
    // inside the target name where it is written, not each place it is used.
    const targetPath = ref === '#' ? this.at : `${this.at}.${ref.slice(2).split('/').join('.')}`;
    return { ...this.convert(target, targetPath, [...refs, ref], depth + 1), ...own };
  }

  private convertFormat(out: GeminiSchema, format: unknown, path: string) {
    if (typeof format !== 'string') {
      this.dropped.add(`${path}.format`);
      return;
    }
    const allowed = out.type ? FORMATS[out.type] : undefined;
    if (allowed?.includes(format)) {
      out.format = format;
    } else if (out.type === 'STRING') {
      // Gemini rejects other string formats; the model still reads a hint.
      out.description = out.description ? `${out.description} (format: ${format})` : `Format: ${format}`;
      this.adapted.add(`${path}.format=description`);
    } else {
      this.dropped.add(`${path}.format`);
    }
  }
}

function withNullable(schema: GeminiSchema, nullable: boolean): GeminiSchema {
  if (nullable && schema.type !== 'NULL') schema.nullable = true;
  return schema;
}

/** allOf / single-branch anyOf: one schema with both sets of constraints (the first value wins on conflicts). */
function mergeInto(out: GeminiSchema, add: GeminiSchema) {
  for (const [key, value] of Object.entries(add) as [keyof GeminiSchema, unknown][]) {
    if (key === 'properties') out.properties = { ...(value as Record<string, GeminiSchema>), ...out.properties };
    else if (key === 'required') out.required = [...new Set([...(out.required ?? []), ...(value as string[])])];
    else if (out[key] === undefined) (out as Record<string, unknown>)[key] = value;
  }
}

/** Resolves a local JSON pointer (`#`, `#/$defs/Item`, `#/properties/a/items`); undefined otherwise. */
function resolvePointer(root: Json, ref: string): unknown {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    let key: string;
    try {
      key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return undefined;
    }
    if (Array.isArray(node)) node = node[Number(key)];
    else if (isObject(node) && Object.hasOwn(node, key)) node = node[key];
    else return undefined;
  }
  return node;
}
