// Degenerate suggestions a small model produces and the multi-line policy (multiline.ts) cuts: a line repeated in a
// row or repeating the line above the cursor, and text that echoes what already follows the cursor (closing a
// bracket that is already closed). Pure string functions, vscode-free.

/**
 * Lines that legitimately come twice in a row: closers of nested blocks (`}` `}`, `end` `end`) and lines without
 * any letter or digit (`---`, `);`). A repeated statement (`pass`, `x = 1`) is not among them.
 */
export function mayRepeat(line: string): boolean {
  const t = line.trim();
  return !/[\p{L}\p{N}]/u.test(t) || /^(end|fi|done|esac)\b\W*$/.test(t);
}

/** True when `line` repeats `previous` exactly (indentation included, trailing space ignored) and may not repeat. */
export function repeatsLine(line: string, previous: string | undefined): boolean {
  if (previous === undefined || line.trim() === '') return false;
  return line.trimEnd() === previous.trimEnd() && !mayRepeat(line);
}

/** Open minus closed brackets, ignoring what is inside string quotes on the line (good enough for one line). */
export function bracketBalance(text: string): number {
  let depth = 0, quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
  }
  return depth;
}

/**
 * Where a one-line completion starts echoing the text after the cursor on its line: the smallest i such that
 * completion.slice(i) (trailing space ignored) is the start of `lineSuffix`, and cutting there leaves the
 * line's brackets no less balanced than keeping it (so `print(|)` + `len(a)` keeps its own `)`, while `foo(|)` +
 * `a, b)` loses the repeated one). Also inside a word: `|value)` + `new_value)` → `new_`, since what is kept plus
 * the existing suffix reads as the model's line. Returns completion.length when nothing is echoed.
 */
export function echoStart(completion: string, linePrefix: string, lineSuffix: string): number {
  if (lineSuffix.trim() === '') return completion.length;
  // With its leading space first (`x| + 1)` + `x + 1)` → `x`), then without (`f(| )` + `a)` → `a`).
  const suffixes = [lineSuffix.trimEnd(), lineSuffix.trim()];
  const whole = Math.abs(bracketBalance(linePrefix + completion + lineSuffix));
  for (let i = 0; i < completion.length; i++) {
    const rest = completion.slice(i).trimEnd();
    if (rest.trim() === '' || !suffixes.some((s) => s.startsWith(rest))) continue;
    if (Math.abs(bracketBalance(linePrefix + completion.slice(0, i) + lineSuffix)) <= whole) return i;
  }
  return completion.length;
}
