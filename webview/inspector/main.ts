// Routing inspector (browser side): the latest completion as a token × layer heatmap (each cell split: attention
// above, MLP below; filled = skipped), per-layer skip-rate bars over the session, totals, a token's router
// probabilities on click, a slider that re-runs the last prompt (in target skip rates when the model has a
// calibration, else in thresholds), and JSON / CSV export.
import type { HostToWebview, TokenView } from '../../extension/webviews/protocol';
import { clearError, connect, el, layerTable, pct, post, showError, shown } from '../shared/host';

const app = document.getElementById('app') as HTMLElement;
const info = el('div', { class: 'muted', id: 'info' }, 'No completion yet: trigger one in an editor.');
const totals = el('div', { class: 'summary', id: 'totals' });
const heatmap = el('div', { class: 'heatmap', id: 'heatmap' });
const details = el('div', { id: 'details' });
const bars = el('div', { class: 'bars', id: 'session-bars' });
// No value until the host's `init` says which threshold is in effect (the setting, else the model's default).
const slider = el('input', { type: 'range', min: '0', max: '1', step: '0.01', id: 'threshold' });
const sliderValue = el('span', { id: 'threshold-value' }, '');
const rerun = el('button', { id: 'rerun' }, 'Re-run last prompt');
const exportJson = el('button', { class: 'secondary', id: 'export-json' }, 'Export JSON');
const exportCsv = el('button', { class: 'secondary', id: 'export-csv' }, 'Export CSV');
const sliderLabel = el('label', { for: 'threshold', id: 'slider-label' }, 'Threshold ');
let tokens: TokenView[] = [];
let selected = -1;
/** The slider's unit: a target skip rate (0..1, the engine maps it through the calibration) or a threshold. */
let rateMode = false;
let maxThreshold = '1.01';

const rerunMessage = () => (rateMode ? { type: 'rerun' as const, skipRate: Number(slider.value) } : { type: 'rerun' as const, threshold: Number(slider.value) });
slider.addEventListener('input', () => { sliderValue.textContent = caption(null); });
slider.addEventListener('change', () => post(rerunMessage()));
rerun.addEventListener('click', () => post(rerunMessage()));
exportJson.addEventListener('click', () => post({ type: 'export', format: 'json' }));
exportCsv.addEventListener('click', () => post({ type: 'export', format: 'csv' }));

app.append(
  el('div', { class: 'toolbar' }, sliderLabel, slider, sliderValue, rerun),
  el('div', { class: 'toolbar' }, exportJson, exportCsv),
  info, totals,
  el('h2', {}, 'Tokens × layers'),
  el('div', { class: 'legend' }, el('span', {}, el('span', { class: 'swatch sw-attn' }), 'attention skipped (top)'),
    el('span', {}, el('span', { class: 'swatch sw-mlp' }), 'MLP skipped (bottom)')),
  heatmap, details,
  el('h2', {}, 'Skip rate per layer (session)'), bars);

const short = (t: number) => String(t === 0 || t >= 0.001 ? Number(t.toPrecision(3)) : t.toExponential(1));

/** The caption says the slider's own value (so the two always agree), plus the threshold it ran at when known. */
function caption(threshold: number | null): string {
  if (!rateMode) return slider.value;
  return `${pct(Number(slider.value))} skipped${threshold === null ? '' : ` · threshold ${short(threshold)}`}`;
}

/** Sets the slider's unit, then its value: a skip rate (`rate`, when the model is calibrated) or the threshold. */
function showSparsity(threshold: number | null, rate: number | null): void {
  rateMode = rate !== null;
  sliderLabel.textContent = rateMode ? 'Skip rate ' : 'Threshold ';
  if (rateMode) { slider.max = '1'; slider.step = '0.01'; }
  if (threshold === null) { sliderValue.textContent = '(no model)'; return; }
  slider.value = String(rateMode ? rate : threshold);
  sliderValue.textContent = caption(threshold);
}

function stat(label: string, value: string, id: string): HTMLElement {
  return el('div', { class: 'stat', id }, el('b', {}, value), el('span', { class: 'muted' }, label));
}

function select(i: number): void {
  selected = i;
  for (const c of heatmap.querySelectorAll('.cell, .col-head')) c.classList.toggle('sel', Number((c as HTMLElement).dataset.t) === i);
  const t = tokens[i];
  if (!t) { details.replaceChildren(); return; }
  details.replaceChildren(el('h2', {}, `Token ${i}: ${JSON.stringify(t.text)} (id ${t.id}, ${t.ms.toFixed(1)} ms)`), layerTable(t));
}

function renderHeatmap(layers: number): void {
  // Grid: a header row of token labels, then one row per layer; column 1 holds the layer numbers.
  heatmap.style.gridTemplateColumns = `28px repeat(${tokens.length}, 14px)`;
  const kids: HTMLElement[] = [el('div', {})];
  tokens.forEach((t, i) => {
    const h = el('div', { class: 'col-head', 'data-t': String(i), title: JSON.stringify(t.text) }, shown(t.text).slice(0, 8) || '∅');
    h.addEventListener('click', () => select(i));
    kids.push(h);
  });
  for (let l = 0; l < layers; l++) {
    kids.push(el('div', { class: 'row-head' }, String(l)));
    tokens.forEach((t, i) => {
      const c = el('div', { class: 'cell', 'data-t': String(i), 'data-l': String(l),
        title: `token ${i} layer ${l}: attention ${t.attn[l] ? 'ran' : 'skipped'} (p ${t.pAttn[l].toFixed(3)}), MLP ${t.mlp[l] ? 'ran' : 'skipped'} (p ${t.pMlp[l].toFixed(3)})` },
        el('div', { class: `a ${t.attn[l] ? 'ex' : 'sk'}` }), el('div', { class: `m ${t.mlp[l] ? 'ex' : 'sk'}` }));
      c.addEventListener('click', () => select(i));
      kids.push(c);
    });
  }
  heatmap.replaceChildren(...kids);
}

function renderBars(session: { tokens: number; attn: number[]; mlp: number[] }): void {
  const rows: HTMLElement[] = [];
  session.attn.forEach((a, l) => {
    rows.push(el('div', { class: 'row-head' }, String(l)),
      el('div', { class: 'barline', title: `layer ${l}: attention skipped ${pct(a)}, MLP skipped ${pct(session.mlp[l])} over ${session.tokens} tokens` },
        el('div', { class: 'a', style: `width:${(a * 100).toFixed(1)}%` }), el('div', { class: 'm', style: `width:${(session.mlp[l] * 100).toFixed(1)}%` })));
  });
  bars.replaceChildren(...rows);
}

function onMessage(m: HostToWebview): void {
  switch (m.type) {
    case 'init':
      maxThreshold = slider.max = String(m.maxThreshold);
      // A calibrated model: the slider shows the target rate requests ask for, else the rate expected at the threshold.
      showSparsity(m.threshold, m.calibrated ? m.target ?? m.expected ?? 0 : null);
      if (!tokens.length) info.textContent = `${m.model || 'model'} · ${m.layers} layers · no completion yet: trigger one in an editor.`;
      return;
    case 'trace': {
      clearError();
      tokens = m.tokens;
      const layers = tokens[0]?.attn.length ?? 0;
      if (m.expected === null) slider.max = maxThreshold;   // back to thresholds (a model without calibration)
      showSparsity(m.threshold, m.expected === null ? null : m.target ?? m.expected);
      const realised = pct((m.summary.attnSkip + m.summary.mlpSkip) / 2);
      const asked = m.target === null ? `threshold ${m.threshold}` : `target skip ${pct(m.target)} (threshold ${short(m.threshold)})`;
      info.textContent = `Latest completion: ${tokens.length} tokens × ${layers} layers at ${asked}, ${realised} of sublayers skipped. Click a token for its router probabilities.`;
      totals.replaceChildren(stat('tokens/s', m.summary.tokensPerSec.toFixed(1), 'tot-tps'), stat('attention skipped', pct(m.summary.attnSkip), 'tot-attn'),
        stat('MLP skipped', pct(m.summary.mlpSkip), 'tot-mlp'),
        stat('weights read vs dense', m.summary.weightsReadFraction === null ? 'n/a' : pct(m.summary.weightsReadFraction), 'tot-weights'),
        stat('session tokens', String(m.session.tokens), 'tot-session'),
        ...(m.promptSummary ? [stat(`prompt (${m.promptSummary.tokens} tokens): attention / MLP skipped`,
          `${pct(m.promptSummary.attnSkip)} / ${pct(m.promptSummary.mlpSkip)}`, 'tot-prompt')] : []));
      renderHeatmap(layers);
      renderBars(m.session);
      select(selected >= 0 && selected < tokens.length ? selected : 0);
      return;
    }
    case 'error': showError(m.message); return;
    default: return;
  }
}

connect('inspector', onMessage);
