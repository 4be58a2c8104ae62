// Routing inspector (browser side): the latest completion as a token × layer heatmap (each cell split: attention
// above, MLP below; filled = skipped), per-layer skip-rate bars over the session, totals, a token's router
// probabilities on click, a threshold slider that re-runs the last prompt, and JSON / CSV export.
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
let tokens: TokenView[] = [];
let selected = -1;

slider.addEventListener('input', () => { sliderValue.textContent = slider.value; });
slider.addEventListener('change', () => post({ type: 'rerun', threshold: Number(slider.value) }));
rerun.addEventListener('click', () => post({ type: 'rerun', threshold: Number(slider.value) }));
exportJson.addEventListener('click', () => post({ type: 'export', format: 'json' }));
exportCsv.addEventListener('click', () => post({ type: 'export', format: 'csv' }));

app.append(
  el('div', { class: 'toolbar' }, el('label', { for: 'threshold' }, 'Threshold '), slider, sliderValue, rerun),
  el('div', { class: 'toolbar' }, exportJson, exportCsv),
  info, totals,
  el('h2', {}, 'Tokens × layers'),
  el('div', { class: 'legend' }, el('span', {}, el('span', { class: 'swatch sw-attn' }), 'attention skipped (top)'),
    el('span', {}, el('span', { class: 'swatch sw-mlp' }), 'MLP skipped (bottom)')),
  heatmap, details,
  el('h2', {}, 'Skip rate per layer (session)'), bars);

/** The slider and its caption always show the same threshold: the one in effect, or the latest trace's. */
function showThreshold(t: number | null): void {
  if (t === null) { sliderValue.textContent = '(no model)'; return; }
  slider.value = String(t);
  sliderValue.textContent = String(t);
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
      slider.max = String(m.maxThreshold);
      showThreshold(m.threshold);
      if (!tokens.length) info.textContent = `${m.model || 'model'} · ${m.layers} layers · no completion yet: trigger one in an editor.`;
      return;
    case 'trace': {
      clearError();
      tokens = m.tokens;
      const layers = tokens[0]?.attn.length ?? 0;
      showThreshold(m.threshold);
      info.textContent = `Latest completion: ${tokens.length} tokens × ${layers} layers at threshold ${m.threshold}. Click a token for its router probabilities.`;
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
