// Multi-line policy for inline suggestions: one line when the cursor is mid-line, otherwise stop at a blank line,
// at a dedent below the cursor's block, after a closing line that ends the block, at maxLines; never repeat the
// text that already follows the cursor, a line just written (degenerate loops) or the line above the cursor
// (degenerate.ts). `shouldStop` applies the same rules to a partial stream so generation can be aborted early.
// `startsBlock` says where more than one line is worth waiting for (the pipeline's latency policy). vscode-free.
import { echoStart, repeatsLine } from './degenerate';

export interface PolicyContext {
  /** Text of the cursor's line before the cursor. */
  linePrefix: string;
  /** Text of the cursor's line after the cursor. */
  lineSuffix: string;
  /** Lines of the document after the cursor's line (a few are enough). */
  nextLines: readonly string[];
  maxLines: number;
  /** The line above the cursor's line (undefined on the first line). */
  lineAbove?: string;
}

export interface CutResult {
  text: string;
  /** True when a rule cut the text (as opposed to the text simply ending). */
  cut: boolean;
  reason?: 'single-line' | 'blank-line' | 'dedent' | 'block-end' | 'repeats-suffix' | 'repeated-line' | 'max-lines';
}

const indentOf = (line: string): number => {
  let n = 0;
  for (const ch of line) { if (ch === ' ') n += 1; else if (ch === '\t') n += 4; else break; }
  return n;
};
const CLOSER = /^\s*([}\])]|end\b|fi\b|done\b|esac\b)/;
const OPENER = /[:{([]\s*$/;

function finish(lines: string[], cut: boolean, reason?: CutResult['reason']): CutResult {
  const text = lines.join('\n').replace(/\s+$/, '');
  return { text, cut, reason: cut ? reason : undefined };
}

/** Applies the policy to a (possibly partial) completion; with `completeLinesOnly`, the last unterminated line is
 * judged only for what is already certain (used while streaming). */
export function applyPolicy(completion: string, ctx: PolicyContext, completeLinesOnly = false): CutResult {
  const lines = completion.split('\n');
  const midLine = ctx.lineSuffix.trim().length > 0;
  if (midLine) {
    // The model often closes what is already closed after the cursor: `foo(|)` → `a, b)`; drop the echo (all of it
    // when the suggestion only closes: `)` before `)`).
    const first = lines[0];
    if (completeLinesOnly && lines.length === 1) return { text: completion, cut: false };  // `a, b)` may go on
    const echo = echoStart(first, ctx.linePrefix, ctx.lineSuffix);
    // Not trimmed: the space in `data, |items` belongs to the suggestion.
    if (echo < first.length) return { text: first.slice(0, echo), cut: true, reason: 'repeats-suffix' };
    return finish([first], lines.length > 1, 'single-line');
  }
  const base = indentOf(ctx.linePrefix);
  const nextCode = ctx.nextLines.find((l) => l.trim() !== '');
  const firstDone = !completeLinesOnly || lines.length > 1;
  // On an empty line, a first line that is the next code line (a closing `}` already there) or the line above the
  // cursor again (a loop starting) is no suggestion.
  const firstLine = ctx.linePrefix + lines[0];
  if (firstDone && lines[0].trim() !== '' && ctx.linePrefix.trim() === '') {
    if (nextCode !== undefined && firstLine.trim() === nextCode.trim()) return finish([], true, 'repeats-suffix');
    if (repeatsLine(firstLine, ctx.lineAbove)) return finish([], true, 'repeated-line');
  }
  const out: string[] = [lines[0]];
  let wentDeeper = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    // While streaming, the last line may still grow: judge it only on what cannot change any more.
    const complete = !completeLinesOnly || i < lines.length - 1;
    if (line.trim() === '') {
      if (!complete || i === lines.length - 1) break;   // a trailing newline is not a blank line
      return finish(out, true, 'blank-line');
    }
    const ind = indentOf(line);
    if (ind < base) return finish(out, true, 'dedent');
    if (!complete) break;                       // block-end needs the whole line (`}` vs a new statement)
    if (nextCode !== undefined && line.trim() === nextCode.trim()) return finish(out, true, 'repeats-suffix');
    // The line just written again (`wrapper.__doc__ = wrapper` five times): a loop, cut at its first repeat.
    if (repeatsLine(line, i === 1 ? firstLine : lines[i - 1])) return finish(out, true, 'repeated-line');
    if (ind === base && wentDeeper) {
      if (CLOSER.test(line)) out.push(line);    // `}` / `end` closes the block the suggestion opened: keep it
      return finish(out, true, 'block-end');
    }
    if (ind > base) wentDeeper = true;
    // A first line left empty (the suggestion starts on the next line) is not one of the maxLines shown.
    if (out.length - (out[0].trim() === '' ? 1 : 0) >= ctx.maxLines) return finish(out, true, 'max-lines');
    out.push(line);
  }
  if (completeLinesOnly) return { text: completion, cut: false };
  return finish(out, false);
}

/** True once the streamed text can no longer change the final suggestion, so the engine may be stopped. */
export function shouldStop(partial: string, ctx: PolicyContext): boolean {
  return applyPolicy(partial, ctx, true).cut;
}

/**
 * True where a block starts, so a suggestion of several lines is likely what the user wants: at the end of a line that
 * opens one (`:`, `{`, `(`, `[`), on the line after it, or on an empty line indented deeper than the one above.
 * Elsewhere a suggestion is one line: it comes sooner, and the next line is asked for once this one is accepted.
 */
export function startsBlock(ctx: PolicyContext): boolean {
  if (ctx.lineSuffix.trim() !== '') return false;
  if (OPENER.test(ctx.linePrefix)) return true;
  if (ctx.lineAbove === undefined) return false;
  return OPENER.test(ctx.lineAbove) || (ctx.linePrefix.trim() === '' && indentOf(ctx.linePrefix) > indentOf(ctx.lineAbove));
}

/** Context from the document text around the cursor (prefix = everything before it, suffix = everything after). */
export function policyContext(prefix: string, suffix: string, maxLines: number): PolicyContext {
  const nl = prefix.lastIndexOf('\n');
  const end = suffix.indexOf('\n');
  const lineSuffix = end < 0 ? suffix : suffix.slice(0, end);
  const rest = end < 0 ? [] : suffix.slice(end + 1).split('\n', 8);
  const above = nl < 0 ? undefined : prefix.slice(prefix.lastIndexOf('\n', nl - 1) + 1, nl);
  return { linePrefix: prefix.slice(nl + 1), lineSuffix, nextLines: rest, maxLines, lineAbove: above };
}
