// What the status bar item says for each engine state: loading / ready / generating / error, with the last latency,
// tokens/s and skip rate once a completion has run, and the target skip rate when one is set. vscode-free (the host
// applies it to a StatusBarItem).

export type EngineState = 'no-model' | 'loading' | 'ready' | 'generating' | 'error';

export interface LastRun { latencyMs: number; tokensPerSec: number; skipRate: number; tokens: number }

export interface StatusView { text: string; tooltip: string; error: boolean }

const pct = (x: number) => `${Math.round(x * 100)}%`;

export function statusView(o: { state: EngineState; model?: string; error?: string; last?: LastRun; inlineEnabled: boolean;
  threshold?: number; ep?: string; epReason?: string; routing?: string; target?: number; fallback?: string }): StatusView {
  const off = o.inlineEnabled ? '' : ' (off)';
  // `routing`: the dial in words (completion/sparsityDial.ts). Without it, from the threshold alone; none before a
  // model is loaded: the model's default will apply.
  const mode = o.routing ?? (o.threshold === 0 ? 'dense' : o.threshold === undefined ? "the model's default threshold" : `threshold ${o.threshold}`);
  const lines = [`SkipGPT${o.model ? `: ${o.model}` : ''}`, `Routing: ${mode}`];
  if (o.fallback) lines.push(o.fallback);
  if (o.ep) lines.push(`Execution provider: ${o.ep}${o.epReason ? ` (${o.epReason})` : ''}`);
  if (!o.inlineEnabled) lines.push('Inline completions are off (SkipGPT: Toggle Inline Completions)');
  if (o.last) {
    lines.push(`Last completion: ${Math.round(o.last.latencyMs)} ms, ${o.last.tokens} tokens, `
      + `${o.last.tokensPerSec.toFixed(1)} tok/s, ${pct(o.last.skipRate)} of sublayers skipped`
      + (o.target === undefined ? '' : ` (target ${pct(o.target)})`));
  }
  lines.push('Click to open the skip-rate panel');
  const tooltip = (extra?: string) => (extra ? [extra, ...lines] : lines).join('\n');
  switch (o.state) {
    case 'no-model': return { text: `$(circle-slash) SkipGPT: no model${off}`, tooltip: tooltip(o.error ?? 'No model loaded'), error: false };
    case 'loading': return { text: `$(sync~spin) SkipGPT: loading${off}`, tooltip: tooltip('Loading the model…'), error: false };
    case 'generating': return { text: `$(loading~spin) SkipGPT${off}`, tooltip: tooltip('Generating…'), error: false };
    case 'error': return { text: `$(error) SkipGPT${off}`, tooltip: tooltip(`Error: ${o.error ?? 'unknown'}`), error: true };
    case 'ready': {
      const l = o.last;
      // The realised rate of the last run, then the target when the user set one.
      const target = o.target === undefined ? '' : ` (target ${pct(o.target)})`;
      const text = l ? `$(zap) ${Math.round(l.latencyMs)} ms · ${l.tokensPerSec.toFixed(0)} tok/s · skip ${pct(l.skipRate)}${target}${off}`
        : `$(zap) SkipGPT${o.target === undefined ? '' : ` · target ${pct(o.target)}`}${off}`;
      return { text, tooltip: tooltip(), error: false };
    }
  }
}
