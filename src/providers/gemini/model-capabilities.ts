import type { DeploymentOptions } from '../../routing/catalog';

// What the gateway must know about a Gemini model to build a request it accepts.

/**
 * Models the Gemini API refuses a `systemInstruction` for ("Developer instruction is
 * not enabled for models/…", 400): the Gemma family served through the Gemini API
 * and the first-generation gemini-1.0-pro / gemini-pro(-vision). Configuration
 * (`system_instruction = false | true`) overrides this list either way.
 */
const NO_SYSTEM_INSTRUCTION: RegExp[] = [/^gemma-/, /^gemini-(1\.0-)?pro(-vision)?(-\d{3}|-latest)?$/];

/** The bare model id: `models/gemma-3-27b-it` and `gemma-3-27b-it` are the same model. */
const bareId = (model: string) => model.slice(model.lastIndexOf('/') + 1).toLowerCase();

export function supportsSystemInstruction(model: string, options: DeploymentOptions): boolean {
  if (typeof options.system_instruction === 'boolean') return options.system_instruction;
  const id = bareId(model);
  return !NO_SYSTEM_INSTRUCTION.some((re) => re.test(id));
}

/**
 * Gemini 3 and later reject a function call in the current turn whose thought
 * signature is missing (400), so a history that lost it gets Google's documented
 * placeholder instead (see to-gemini-contents.ts).
 */
export function requiresThoughtSignatures(model: string): boolean {
  const version = /^gemini-(\d+)(?:\.\d+)?-/.exec(bareId(model));
  return version !== null && Number(version[1]) >= 3;
}
