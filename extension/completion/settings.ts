// Typed SkipGPT settings: defaults, presets and validation of raw values read from the editor's configuration.
// vscode-free (the host reads `skipgpt.*` and hands a plain object here); package.json mirrors these defaults and a
// unit test keeps the two in step.

export type ExecutionProvider = 'auto' | 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ['auto', 'cpu', 'webgpu', 'cuda', 'dml', 'coreml'];

export interface SkipgptSettings {
  modelFolder: string;
  executionProvider: ExecutionProvider;
  threads: number;
  threshold: number;
  denseMode: boolean;
  maxTokens: number;
  maxLines: number;
  debounceMs: number;
  promptTokens: number;
  languages: string[];
  inlineEnabled: boolean;
  draftTokens: number;
}

export const DEFAULT_LANGUAGES = ['python', 'javascript', 'typescript', 'javascriptreact', 'typescriptreact', 'java',
  'c', 'cpp', 'csharp', 'go', 'rust', 'ruby', 'php', 'shellscript', 'lua', 'markdown'];

export const DEFAULTS: SkipgptSettings = {
  modelFolder: '',
  executionProvider: 'auto',
  threads: 0,
  threshold: 0.5,
  denseMode: false,
  maxTokens: 48,
  maxLines: 8,
  debounceMs: 120,
  promptTokens: 512,
  languages: DEFAULT_LANGUAGES,
  inlineEnabled: true,
  // Off: with the default 8-bit model on a CPU a drafted row costs 16-32% of a step and only ~30% of drafts are
  // right, so nothing is gained; a float32 model decodes 18% faster with 2 (docs/BENCHMARKS.md §0c).
  draftTokens: 0,
};

/** Named sparsity levels offered by "SkipGPT: Set Sparsity"; the value is the router threshold. */
export const SPARSITY_PRESETS: readonly { label: string; threshold: number; detail: string }[] = [
  { label: 'Dense', threshold: 0, detail: 'every sublayer runs (threshold 0)' },
  { label: 'Trained (default)', threshold: 0.5, detail: 'the routers decide as trained (threshold 0.5)' },
  { label: 'Sparser', threshold: 0.65, detail: 'skips more sublayers (threshold 0.65)' },
  { label: 'Aggressive', threshold: 0.8, detail: 'skips most uncertain sublayers (threshold 0.8)' },
];

/** Settings keys as they appear under the `skipgpt.` section (package.json "contributes.configuration"). */
export const SETTING_KEYS: Record<keyof SkipgptSettings, string> = {
  modelFolder: 'modelFolder',
  executionProvider: 'executionProvider',
  threads: 'threads',
  threshold: 'threshold',
  denseMode: 'denseMode',
  maxTokens: 'maxTokens',
  maxLines: 'maxLines',
  debounceMs: 'debounceMs',
  promptTokens: 'promptTokens',
  languages: 'languages',
  inlineEnabled: 'inlineCompletions.enabled',
  draftTokens: 'draftTokens',
};

const num = (v: unknown, d: number, lo: number, hi: number, int = false): number => {
  if (typeof v !== 'number' || !Number.isFinite(v)) return d;
  const x = int ? Math.round(v) : v;
  return Math.min(hi, Math.max(lo, x));
};

/** Turns raw configuration values (possibly hand-edited JSON) into valid settings; bad values fall back to defaults. */
export function parseSettings(get: (key: string) => unknown): SkipgptSettings {
  const ep = get(SETTING_KEYS.executionProvider);
  const langs = get(SETTING_KEYS.languages);
  const folder = get(SETTING_KEYS.modelFolder);
  return {
    modelFolder: typeof folder === 'string' ? folder.trim() : '',
    executionProvider: EXECUTION_PROVIDERS.includes(ep as ExecutionProvider) ? (ep as ExecutionProvider) : DEFAULTS.executionProvider,
    threads: num(get(SETTING_KEYS.threads), DEFAULTS.threads, 0, 256, true),
    threshold: num(get(SETTING_KEYS.threshold), DEFAULTS.threshold, 0, 1.01),
    denseMode: typeof get(SETTING_KEYS.denseMode) === 'boolean' ? (get(SETTING_KEYS.denseMode) as boolean) : DEFAULTS.denseMode,
    maxTokens: num(get(SETTING_KEYS.maxTokens), DEFAULTS.maxTokens, 1, 1024, true),
    maxLines: num(get(SETTING_KEYS.maxLines), DEFAULTS.maxLines, 1, 200, true),
    debounceMs: num(get(SETTING_KEYS.debounceMs), DEFAULTS.debounceMs, 0, 5000, true),
    promptTokens: num(get(SETTING_KEYS.promptTokens), DEFAULTS.promptTokens, 32, 8192, true),
    languages: Array.isArray(langs) ? langs.filter((l): l is string => typeof l === 'string' && l.length > 0) : DEFAULTS.languages,
    inlineEnabled: typeof get(SETTING_KEYS.inlineEnabled) === 'boolean' ? (get(SETTING_KEYS.inlineEnabled) as boolean) : DEFAULTS.inlineEnabled,
    draftTokens: num(get(SETTING_KEYS.draftTokens), DEFAULTS.draftTokens, 0, 16, true),
  };
}

/** The router threshold actually used: dense mode overrides the configured sparsity. */
export function effectiveThreshold(s: Pick<SkipgptSettings, 'threshold' | 'denseMode'>): number {
  return s.denseMode ? 0 : s.threshold;
}

/** Accepts a threshold typed by the user ("0.6") and says what is wrong otherwise. */
export function parseThresholdInput(text: string): { value?: number; error?: string } {
  const v = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(v)) return { error: 'Enter a number between 0 (dense) and 1.01 (skip all).' };
  if (v < 0 || v > 1.01) return { error: `Threshold ${v} is outside 0 … 1.01 (0 = dense, 0.5 = trained, > 1 = skip all).` };
  return { value: v };
}
