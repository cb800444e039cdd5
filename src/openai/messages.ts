import type { ChatMessage, ContentPart } from './types';

// Small readings of OpenAI messages that every translating provider needs.

/** The text of a message's content: the string, or its text parts joined by blank lines. */
export function textOf(content: ChatMessage['content']): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  let text = '';
  for (const part of content) {
    if (part.type === 'text') text += (text ? '\n\n' : '') + part.text;
  }
  return text;
}

/** True for the roles that carry instructions rather than conversation. */
export const isSystemRole = (role: ChatMessage['role']) => role === 'system' || role === 'developer';

/**
 * Every text of every system / developer message, wherever it stands in the
 * conversation, in order. Providers with a single system field join them.
 */
export function systemTexts(messages: ChatMessage[]): string[] {
  const texts: string[] = [];
  for (const m of messages) {
    if (!isSystemRole(m.role)) continue;
    if (typeof m.content === 'string') {
      if (m.content) texts.push(m.content);
    } else for (const part of m.content ?? []) if (part.type === 'text' && part.text) texts.push(part.text);
  }
  return texts;
}

/** Content as a list of parts (a string becomes one text part). */
export function partsOf(content: ChatMessage['content']): ContentPart[] {
  if (content == null) return [];
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

/** Tool-call id → function name, from the assistant turns (tool results carry only the id). */
export function toolCallNames(messages: ChatMessage[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const m of messages) for (const call of m.tool_calls ?? []) names.set(call.id, call.function.name);
  return names;
}
