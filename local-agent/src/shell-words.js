// Splits a command line the way a POSIX shell splits words (quotes and backslashes),
// without running a shell, so `args: --limit-mm-per-prompt '{"image": 10}'` means
// what it means on the command line.

/**
 * @param {string} text
 * @param {string} at field name for error messages
 * @param {string[]} problems collects errors
 * @returns {string[]}
 */
export function splitShellWords(text, at, problems) {
  const words = [];
  let word = '';
  let inWord = false;
  let quote = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1])) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) problems.push(`${at}: unterminated ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}
