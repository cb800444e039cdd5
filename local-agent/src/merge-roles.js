// For engines whose chat templates demand strictly alternating roles (some VL models'
// templates raise on user,user): consecutive same-role messages become one. Opt-in per
// model (merge_consecutive_roles), since it changes what the engine sees.

/** @param {any[]} messages @returns {any[]} */
export function mergeConsecutiveRoles(messages) {
  const out = [];
  for (const message of messages) {
    const prev = out[out.length - 1];
    if (prev && mergeable(prev) && mergeable(message) && prev.role === message.role && prev.name === message.name) {
      out[out.length - 1] = { ...prev, content: joinContent(prev.content, message.content) };
    } else out.push(message);
  }
  return out;
}

// Tool calls and tool results are paired by id: never merged.
const mergeable = (m) => m && typeof m === 'object' && m.role !== 'tool' && !m.tool_calls && (typeof m.content === 'string' || Array.isArray(m.content));

function joinContent(a, b) {
  if (typeof a === 'string' && typeof b === 'string') return `${a}\n\n${b}`;
  const parts = (c) => (typeof c === 'string' ? [{ type: 'text', text: c }] : c);
  return [...parts(a), ...parts(b)];
}
