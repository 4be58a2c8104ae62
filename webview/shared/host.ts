// Browser-side plumbing shared by both webviews: the typed channel to the extension host (ready handshake, messages
// from webviews/protocol.ts) and a tiny DOM builder that only ever sets text (token text is untrusted model output).
import type { HostToWebview, TokenView, WebviewToHost } from '../../extension/webviews/protocol';

interface VsCodeApi { postMessage(msg: unknown): void; getState(): unknown; setState(s: unknown): void }
declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();

export function post(msg: WebviewToHost): void { api.postMessage(msg); }

const HOST_TYPES = new Set(['init', 'runStart', 'token', 'runEnd', 'trace', 'error']);

/** Listens for host messages (only well-formed ones of known types), then announces readiness. */
export function connect(view: 'panel' | 'inspector', onMessage: (m: HostToWebview) => void): void {
  window.addEventListener('message', (ev: MessageEvent) => {
    const m = ev.data as { type?: unknown } | null;
    if (!m || typeof m !== 'object' || typeof m.type !== 'string' || !HOST_TYPES.has(m.type)) return;
    try { onMessage(m as HostToWebview); } catch (e) { showError(`render failed: ${(e as Error).message}`); }
  });
  post({ type: 'ready', view });
}

type Attrs = { class?: string; title?: string; style?: string; [k: string]: string | undefined };

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    // The CSP has no 'unsafe-inline' for styles: a style attribute would be dropped, CSSOM properties are allowed.
    if (k === 'style') for (const decl of v.split(';')) { const [p, val] = decl.split(':'); if (p && val) e.style.setProperty(p.trim(), val.trim()); }
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(typeof k === 'string' ? document.createTextNode(k) : k);
  return e;
}

export function showError(message: string): void {
  let box = document.getElementById('error');
  if (!box) { box = el('div', { id: 'error', class: 'error' }); document.body.prepend(box); }
  box.textContent = message;
}

export function clearError(): void { document.getElementById('error')?.remove(); }

export const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Visible form of a token: whitespace made readable. */
export const shown = (t: string) => t.replace(/\n/g, '↵\n').replace(/\t/g, '→');

export function tokenSkip(t: TokenView): { attn: number; mlp: number } {
  const L = Math.max(1, t.attn.length);
  return { attn: t.attn.filter((x) => !x).length / L, mlp: t.mlp.filter((x) => !x).length / L };
}

/** Per-layer table for a token: decision and p_execute of attention and MLP. */
export function layerTable(t: TokenView): HTMLTableElement {
  const rows = t.attn.map((_, l) => el('tr', {},
    el('td', {}, String(l)),
    el('td', { class: t.attn[l] ? 'run' : 'skip' }, t.attn[l] ? 'run' : 'skip'), el('td', {}, t.pAttn[l].toFixed(3)),
    el('td', { class: t.mlp[l] ? 'run' : 'skip' }, t.mlp[l] ? 'run' : 'skip'), el('td', {}, t.pMlp[l].toFixed(3))));
  return el('table', { class: 'layers' },
    el('tr', {}, el('th', {}, 'layer'), el('th', {}, 'attn'), el('th', {}, 'p(attn)'), el('th', {}, 'MLP'), el('th', {}, 'p(MLP)')), ...rows);
}
