import type { ChatCompletionRequest } from '../../openai/types';
import type { RequestNotes } from '../provider';
import { toGeminiSchema } from './json-schema';
import type { GeminiFunctionDeclaration, GeminiTool, GeminiToolConfig } from './types';

// OpenAI `tools` / `tool_choice` → Gemini `tools[].functionDeclarations` / `toolConfig`.

export function toGeminiTools(request: ChatCompletionRequest, notes: RequestNotes): { tools?: GeminiTool[]; toolConfig?: GeminiToolConfig } {
  const declarations: GeminiFunctionDeclaration[] = (request.tools ?? []).map((tool, i) => {
    const fn = tool.function;
    const declaration: GeminiFunctionDeclaration = { name: fn.name };
    if (fn.description) declaration.description = fn.description;
    if (fn.parameters) {
      const parameters = toGeminiSchema(fn.parameters, `tools[${i}].function.parameters`, notes);
      // Gemini rejects an OBJECT without properties ("should be non-empty for OBJECT
      // type"); a function that takes no arguments simply has no parameters.
      const empty = parameters.type === 'OBJECT' && Object.keys(parameters.properties ?? {}).length === 0;
      if (!empty) declaration.parameters = parameters;
    }
    // Gemini follows declared schemas without a strict switch; the guarantee is not the same.
    if (fn.strict === true) notes.dropped.push(`tools[${i}].function.strict`);
    return declaration;
  });

  const toolConfig = toToolConfig(request.tool_choice, declarations.length > 0);
  return {
    ...(declarations.length > 0 ? { tools: [{ functionDeclarations: declarations }] } : {}),
    ...(toolConfig ? { toolConfig } : {}),
  };
}

/** auto → AUTO, none → NONE, required → ANY, a named function → ANY limited to it. */
function toToolConfig(choice: ChatCompletionRequest['tool_choice'], hasTools: boolean): GeminiToolConfig | undefined {
  if (choice == null || !hasTools) return undefined;
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
}
