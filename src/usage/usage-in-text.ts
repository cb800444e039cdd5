import type { Usage } from '../openai/types';

// Finding a response's token usage in the text the client receives, without parsing the
// whole of it: the usage object is the last `"usage":{…}` of a JSON body, and of a stream
// (the usage chunk, sent last, before [DONE]).

const USAGE_KEY = /"usage"\s*:\s*\{/g;

/** The last usage object in this text (the tail of a body or stream), or null. */
export function lastUsageIn(text: string): Usage | null {
  let start = -1;
  for (const m of text.matchAll(USAGE_KEY)) start = m.index + m[0].length - 1;
  if (start < 0) return null;
  // Usage holds numbers and nested objects only: braces balance without string escapes to mind.
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 123 /* { */) depth++;
    else if (ch === 125 /* } */ && --depth === 0) return asUsage(text.slice(start, i + 1));
  }
  return null;
}

function asUsage(json: string): Usage | null {
  try {
    const u = JSON.parse(json) as Partial<Usage>;
    const count = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : 0);
    if (typeof u.prompt_tokens !== 'number' && typeof u.completion_tokens !== 'number') return null;
    const usage: Usage = { prompt_tokens: count(u.prompt_tokens), completion_tokens: count(u.completion_tokens), total_tokens: count(u.total_tokens) };
    const cached = count(u.prompt_tokens_details?.cached_tokens);
    if (cached) usage.prompt_tokens_details = { cached_tokens: cached };
    return usage;
  } catch {
    return null;
  }
}

/**
 * Splits complete SSE events off the front of `text`: everything up to the last blank
 * line is `complete`, the rest (an event still arriving) is `rest`.
 */
export function splitEvents(text: string): { complete: string; rest: string } {
  const lf = text.lastIndexOf('\n\n');
  const crlf = text.lastIndexOf('\r\n\r\n');
  const cut = Math.max(lf < 0 ? -1 : lf + 2, crlf < 0 ? -1 : crlf + 4);
  return cut < 0 ? { complete: '', rest: text } : { complete: text.slice(0, cut), rest: text.slice(cut) };
}

/**
 * Removes the usage-only chunk (`"choices":[]` with a usage object) from complete SSE
 * events, for a client that did not ask for it; returns what remains and the usage.
 */
export function stripUsageEvent(events: string): { text: string; usage: Usage | null } {
  // A cheap test first: nearly every chunk has no empty list at all.
  if (events.indexOf('[]') < 0) return { text: events, usage: null };
  const at = events.search(/"choices"\s*:\s*\[\]/);
  if (at < 0) return { text: events, usage: null };
  const start = Math.max(0, eventEnd(events.lastIndexOf('\n\n', at), 2), eventEnd(events.lastIndexOf('\r\n\r\n', at), 4));
  const lf = eventEnd(events.indexOf('\n\n', at), 2);
  const crlf = eventEnd(events.indexOf('\r\n\r\n', at), 4);
  const end = Math.min(lf < 0 ? events.length : lf, crlf < 0 ? events.length : crlf);
  const event = events.slice(start, end);
  const usage = lastUsageIn(event);
  if (!usage) return { text: events, usage: null };
  return { text: events.slice(0, start) + events.slice(end), usage };
}

/** The index after a separator found at `at` (-1 when not found). */
const eventEnd = (at: number, length: number) => (at < 0 ? -1 : at + length);
