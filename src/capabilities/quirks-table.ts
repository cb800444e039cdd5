import type { ProviderName } from '../routing/catalog';
import { MODEL_TABLE, PROVIDER_DEFAULTS, type ImageFormat, type ModelCapabilities } from './model-table';

// The README's "Model quirks" table, generated from the capability table so the two
// cannot drift (test/unit/quirks-table.test.ts checks README.md against it).

export const QUIRKS_START = '<!-- model-quirks:start (generated from src/capabilities/model-table.ts; test/unit/quirks-table.test.ts checks it) -->';
export const QUIRKS_END = '<!-- model-quirks:end -->';

const SHORT: Record<ImageFormat, string> = {
  'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/gif': 'GIF', 'image/webp': 'WebP', 'image/heic': 'HEIC', 'image/heif': 'HEIF',
};
const PROVIDER_TITLES: [ProviderName, string][] = [['openai', 'OpenAI · Azure'], ['anthropic', 'Claude'], ['gemini', 'Gemini']];
const MiB = 1024 * 1024;

function row(provider: string, family: string, c: Omit<ModelCapabilities, 'family'>): string {
  const sampling = [
    c.temperature === 'any' ? 'temperature' : c.temperature === 'default_only' ? 'temperature only at 1' : 'no temperature',
    !c.top_p ? 'no top_p' : c.temperature_xor_top_p ? 'top_p dropped when temperature is set' : 'top_p',
  ].join('; ');
  const output = c.max_output_tokens === null ? 'unknown (not clamped)' : `≤ ${c.max_output_tokens}`;
  const images = !c.vision
    ? 'none (400)'
    : [
        c.image_formats.map((f) => SHORT[f]).join(', '),
        c.max_images !== null ? `≤ ${c.max_images} per request` : '',
        c.max_image_bytes !== null ? `≤ ${c.max_image_bytes / MiB} MB each` : '',
      ].filter(Boolean).join('; ');
  const other = [
    c.system === 'fold' ? 'system folded into the first user turn' : '',
    c.max_tokens_field === 'max_completion_tokens' ? '`max_tokens` → `max_completion_tokens`' : '',
    !c.logprobs && provider === 'OpenAI · Azure' ? 'no logprobs' : '',
    !c.reasoning_effort ? 'no `reasoning_effort`' : '',
    !c.tools ? 'no tools (400)' : '',
  ].filter(Boolean).join('; ');
  return `| ${provider} | ${family} | ${sampling} | ${c.penalties ? 'yes' : 'dropped'} | ${output} | ${images} | ${other || '—'} |`;
}

export function renderQuirksTable(): string {
  const lines = [
    '| Provider | Models | Sampling | Penalties | `max_tokens` | Images | Other |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [provider, title] of PROVIDER_TITLES) {
    for (const r of MODEL_TABLE[provider]) lines.push(row(title, `\`${r.family}\``, { ...PROVIDER_DEFAULTS[provider], ...r.caps }));
    lines.push(row(title, 'any other', PROVIDER_DEFAULTS[provider]));
  }
  return [QUIRKS_START, ...lines, QUIRKS_END].join('\n');
}
