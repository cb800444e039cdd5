// A key's allowed models: exact names (`gpt-4o`) or patterns where `*` stands for any run
// of characters (`anthropic/*`, `claude-*`, `*`). Matched against the model name the
// client sent, case-sensitively, as model names are.

const PATTERN_CHARS = /^[A-Za-z0-9._:@\/*-]+$/;

/** Why a pattern is unusable, or null when it is fine. */
export function patternProblem(pattern: unknown): string | null {
  if (typeof pattern !== 'string' || pattern.length === 0) return 'must be a non-empty string';
  if (pattern.length > 200) return 'is longer than 200 characters';
  if (!PATTERN_CHARS.test(pattern)) return 'may only contain letters, digits, "." "_" ":" "@" "/" "-" and "*"';
  return null;
}

export function modelMatches(pattern: string, model: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === model;
  const first = parts[0];
  const last = parts[parts.length - 1];
  if (model.length < first.length + last.length || !model.startsWith(first) || !model.endsWith(last)) return false;
  // Middle parts in order, greedily from the left, within what the prefix and suffix leave.
  let at = first.length;
  const end = model.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = model.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** null means no restriction (keys from GATEWAY_KEYS, or stored keys created without `models`). */
export function modelAllowed(patterns: readonly string[] | null, model: string): boolean {
  return patterns === null || patterns.some((p) => modelMatches(p, model));
}
