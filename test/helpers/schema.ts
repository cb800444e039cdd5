import Ajv from 'ajv';
// Imported rather than read with node:fs, so that tests colocated in src/ (typechecked
// with the Workers types only) can use these validators too.
import openAIChatSpec from '../../../shared/specs/openai-chat-subset.json';

// Validates gateway output against OpenAI's own OpenAPI schemas
// (../shared/specs/openai-chat-subset.json, beside the repository).

const spec = withNullable(openAIChatSpec);

// The spec mixes JSON Schema with OpenAPI 3.0 (`nullable`, `x-*` annotations,
// `format: unixtime`): Ajv in non-strict mode, with `nullable` rewritten to JSON Schema.
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema(spec, 'openai');

/** `{…, nullable: true}` → `{anyOf: [{…}, {type: 'null'}]}`, throughout. */
function withNullable(node: any): any {
  if (Array.isArray(node)) return node.map(withNullable);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) if (k !== 'nullable') out[k] = withNullable(v);
  return node.nullable === true ? { anyOf: [out, { type: 'null' }] } : out;
}

function validator(name: string) {
  const validate = ajv.getSchema(`openai#/components/schemas/${name}`);
  if (!validate) throw new Error(`no schema ${name}`);
  return (value: unknown) => {
    if (!validate(value)) {
      throw new Error(`${name} schema violation: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 2000)}`);
    }
  };
}

export const assertChatCompletion = validator('CreateChatCompletionResponse');
export const assertChatCompletionChunk = validator('CreateChatCompletionStreamResponse');
export const assertErrorResponse = validator('ErrorResponse');
export const assertModelList = validator('ListModelsResponse');
export const assertModel = validator('Model');

/** Reads a stream from the openai SDK to the end, checking every chunk against the schema. */
export async function collectValidChunks<C>(stream: AsyncIterable<C>): Promise<C[]> {
  const chunks: C[] = [];
  for await (const c of stream) {
    assertChatCompletionChunk(c);
    chunks.push(c);
  }
  return chunks;
}
