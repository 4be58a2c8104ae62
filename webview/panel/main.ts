// Skip-rate panel (browser side): streams the routed completion token by token, each token tinted by its skip share
// and underlined by two bars (attention skip share above, MLP below); hovering a token shows its per-layer decisions
// and router probabilities; a summary gives tokens/s, skip rates and weights read; a dense run beside it marks where
// the outputs diverge.
import type { HostToWebview, RunKind, SummaryView, TokenView } from '../../extension/webviews/protocol';
import { clearError, connect, el, layerTable, pct, post, showError, shown, tokenSkip } from '../shared/host';

const app = document.getElementById('app') as HTMLElement;
const hover = el('div', { class: 'hover', id: 'hover' });
const summary = el('div', { class: 'summary', id: 'summary' });
const info = el('div', { class: 'muted', id: 'info' }, 'Waiting for the extension…');
const streams: Record<RunKind, HTMLElement> = { routed: el('div', { class: 'stream', id: 'routed' }), dense: el('div', { class: 'stream', id: 'dense' }) };
const titles: Record<RunKind, HTMLElement> = { routed: el('h2', {}, 'Routed'), dense: el('h2', {}, 'Dense (threshold 0)') };
const divergence = el('div', { class: 'muted', id: 'divergence' });
const tokens: Record<RunKind, TokenView[]> = { routed: [], dense: [] };
const current: Record<RunKind, number> = { routed: -1, dense: -1 };
/** The routed run's target skip rate (null: it ran at a threshold), shown beside the rate it realised. */
let routedTarget: number | null = null;

const runBoth = el('button', { id: 'run' }, 'Run routed + dense');
const runRouted = el('button', { id: 'run-routed', class: 'secondary' }, 'Run routed only');
runBoth.addEventListener('click', () => post({ type: 'run', withDense: true }));
runRouted.addEventListener('click', () => post({ type: 'run', withDense: false }));

app.append(
  el('div', { class: 'toolbar' }, runBoth, runRouted,
    el('span', { class: 'legend' }, el('span', {}, el('span', { class: 'swatch sw-attn' }), 'attention skipped'),
      el('span', {}, el('span', { class: 'swatch sw-mlp' }), 'MLP skipped'), el('span', {}, el('span', { class: 'swatch sw-tint' }), 'tint: share skipped'),
      el('span', {}, el('span', { class: 'swatch sw-div' }), 'first divergence'))),
  info, summary,
  el('div', { class: 'runs' }, el('div', {}, titles.routed, streams.routed), el('div', {}, titles.dense, streams.dense, divergence)),
  hover);

function stat(label: string, value: string, id: string): HTMLElement {
  return el('div', { class: 'stat', id }, el('b', {}, value), el('span', { class: 'muted' }, label));
}

function renderSummary(s: SummaryView): void {
  summary.replaceChildren(
    stat('tokens/s', s.tokensPerSec.toFixed(1), 'stat-tps'),
    stat(routedTarget === null ? 'sublayers skipped' : `sublayers skipped (target ${pct(routedTarget)})`, pct((s.attnSkip + s.mlpSkip) / 2), 'stat-skip'),
    stat('attention skipped', pct(s.attnSkip), 'stat-attn'),
    stat('MLP skipped', pct(s.mlpSkip), 'stat-mlp'),
    stat('weights read vs dense', s.weightsReadFraction === null ? 'n/a' : pct(s.weightsReadFraction), 'stat-weights'),
    stat('tokens', String(s.tokens), 'stat-tokens'));
}

function tokenSpan(t: TokenView, kind: RunKind): HTMLElement {
  const sk = tokenSkip(t);
  const span = el('span', { class: 'tok', 'data-i': String(t.i), 'data-kind': kind,
    'aria-label': `token ${t.i}: attention skipped ${pct(sk.attn)}, MLP skipped ${pct(sk.mlp)}` }, shown(t.text) || '∅',
    el('span', { class: 'bar a', style: `width:${(sk.attn * 100).toFixed(1)}%` }),
    el('span', { class: 'bar m', style: `width:${(sk.mlp * 100).toFixed(1)}%` }));
  // Tint by the token's overall skip share (CSS mixes the theme colour; a custom property passes the CSP).
  span.style.setProperty('--skip', ((sk.attn + sk.mlp) * 50).toFixed(1));
  span.addEventListener('mouseenter', (ev) => showHover(t, kind, ev));
  span.addEventListener('mouseleave', () => { hover.style.display = 'none'; });
  return span;
}

function showHover(t: TokenView, kind: RunKind, ev: MouseEvent): void {
  const sk = tokenSkip(t);
  hover.replaceChildren(el('div', {}, el('b', {}, `${kind} token ${t.i} `), JSON.stringify(t.text),
    ` · id ${t.id} · ${t.ms.toFixed(1)} ms · attention skipped ${pct(sk.attn)}, MLP skipped ${pct(sk.mlp)}`), layerTable(t));
  hover.style.display = 'block';
  const x = Math.min(ev.clientX + 12, window.innerWidth - 320);
  hover.style.left = `${Math.max(4, x)}px`;
  hover.style.top = `${Math.min(ev.clientY + 16, window.innerHeight - 200)}px`;
}

function onMessage(m: HostToWebview): void {
  switch (m.type) {
    case 'init':
      info.textContent = `${m.model || 'model'} · ${m.layers} layers · ${m.routing}`;
      return;
    case 'runStart': {
      clearError();
      current[m.kind] = m.runId;
      tokens[m.kind] = [];
      hover.style.display = 'none'; // its token is about to be removed, so no mouseleave will come
      if (m.kind === 'routed') {
        tokens.dense = []; streams.dense.replaceChildren(); divergence.textContent = ''; summary.replaceChildren();
        routedTarget = m.target;
        titles.routed.textContent = m.target === null ? `Routed (threshold ${m.threshold})`
          : `Routed (target skip ${pct(m.target)}, threshold ${Number(m.threshold.toPrecision(3))})`;
      }
      const tail = m.prompt.length > 400 ? '…' + m.prompt.slice(-400) : m.prompt;
      streams[m.kind].replaceChildren(el('span', { class: 'prompt-text' }, tail));
      return;
    }
    case 'token':
      if (m.runId !== current[m.kind]) return;            // a late token of an older run
      tokens[m.kind].push(m.token);
      streams[m.kind].append(tokenSpan(m.token, m.kind));
      return;
    case 'runEnd':
      if (m.runId !== current[m.kind]) return;
      if (m.kind === 'routed') renderSummary(m.summary);
      if (m.kind === 'dense' && m.divergence !== undefined) {
        if (m.divergence < 0) divergence.textContent = 'Routed and dense outputs agree on every token.';
        else {
          divergence.textContent = `Routed output diverges from dense at token ${m.divergence}; dense ran at ${m.summary.tokensPerSec.toFixed(1)} tokens/s.`;
          for (const k of ['routed', 'dense'] as const) streams[k].querySelector(`.tok[data-i="${m.divergence}"]`)?.classList.add('diverged');
        }
      }
      return;
    case 'error':
      showError(m.message);
      return;
    default:
      return;
  }
}

connect('panel', onMessage);
