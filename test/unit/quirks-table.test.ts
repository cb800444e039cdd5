import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MODEL_TABLE } from '../../src/capabilities/model-table';
import { QUIRKS_END, QUIRKS_START, renderQuirksTable } from '../../src/capabilities/quirks-table';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const start = readme.indexOf(QUIRKS_START);

describe('the README’s model quirks table', () => {
  it('has a row per table row, plus one per provider for other models', () => {
    const rows = renderQuirksTable().split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Provider') && !l.startsWith('| ---'));
    expect(rows).toHaveLength(MODEL_TABLE.openai.length + MODEL_TABLE.anthropic.length + MODEL_TABLE.gemini.length + 3);
    expect(rows.find((r) => r.includes('`gemini-2.5*`'))).toBe('| Gemini | `gemini-2.5*` | temperature; top_p | dropped | ≤ 65536 | PNG, JPEG, WebP, HEIC, HEIF | — |');
  });

  // Until the section is merged into README.md there is nothing to compare.
  it.runIf(start >= 0)('matches the capability data (regenerate it with renderQuirksTable())', () => {
    const end = readme.indexOf(QUIRKS_END, start);
    expect(readme.slice(start, end + QUIRKS_END.length)).toBe(renderQuirksTable());
  });
});
