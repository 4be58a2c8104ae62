// Typed SkipGPT settings: defaults, presets and validation of raw values read from the editor's configuration.
// vscode-free (the host reads `skipgpt.*` and hands a plain object here); package.json mirrors these defaults and a
// unit test keeps the two in step. The threshold's default is not here: it is the loaded model's
// (LoadInfo.thresholdDefault, from its manifest), used while the setting is null.
import { EP_SETTINGS, type EpSetting } from '../engine/protocol';

/** A threshold above every p_execute: every sublayer is skipped (the top of the setting's and the slider's range). */
export const SKIP_ALL_THRESHOLD = 1.01;

/** The highest target skip rate the setting and the dial accept (beyond it a code model says little of use). */
export const MAX_SKIP_RATE = 0.9;

export interface SkipgptSettings {
  modelFolder: string;
  executionProvider: EpSetting;
  threads: number;
  /** Router threshold; null = the loaded model's default (its manifest's router.threshold_default). */
  threshold: number | null;
  /** Target share of sublayers skipped (0..MAX_SKIP_RATE), mapped through the model's calibration; null = use
   * `threshold`. Wins over `threshold` when the loaded model has a calibration (completion/sparsityDial.ts). */
  skipRate: number | null;
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
  threshold: null,
  skipRate: null,
  denseMode: false,
  maxTokens: 48,
  maxLines: 8,
  // Counted from the keystroke, and VS Code itself waits ~50 ms before asking: 60 ms shows a suggestion ~60 ms sooner
  // than 120 did, and a request started between two keystrokes is cancelled after reading a token or two of the
  // prompt, which the next one reuses (scripts/bench/keystroke.mjs, docs/BENCHMARKS.md "Keystroke to ghost text").
  debounceMs: 60,
  promptTokens: 512,
  languages: DEFAULT_LANGUAGES,
  inlineEnabled: true,
  // Off: with the default 8-bit model on a CPU a drafted row costs 16-32% of a step and only ~30% of drafts are
  // right, so nothing is gained; a float32 model decodes 18% faster with 2 (docs/BENCHMARKS.md §0c).
  draftTokens: 0,
};

/** Named sparsity levels offered by "SkipGPT: Set Sparsity": the router threshold, null = the model's default. */
export function sparsityPresets(modelDefault: number | undefined): { label: string; threshold: number | null; detail: string }[] {
  const trained = modelDefault === undefined ? 'the model\'s default' : `threshold ${+modelDefault.toPrecision(3)}`;
  return [
    { label: 'Dense', threshold: 0, detail: 'every sublayer runs (threshold 0)' },
    { label: 'Trained (default)', threshold: null, detail: `the model's own operating point (${trained}, from its manifest)` },
    { label: 'Sparser', threshold: 0.65, detail: 'skips more sublayers (threshold 0.65)' },
    { label: 'Aggressive', threshold: 0.8, detail: 'skips most uncertain sublayers (threshold 0.8)' },
  ];
}

/** Settings keys as they appear under the `skipgpt.` section (package.json "contributes.configuration"). */
export const SETTING_KEYS: Record<keyof SkipgptSettings, string> = {
  modelFolder: 'modelFolder',
  executionProvider: 'executionProvider',
  threads: 'threads',
  threshold: 'threshold',
  skipRate: 'skipRate',
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
    executionProvider: (EP_SETTINGS as readonly unknown[]).includes(ep) ? (ep as EpSetting) : DEFAULTS.executionProvider,
    threads: num(get(SETTING_KEYS.threads), DEFAULTS.threads, 0, 256, true),
    threshold: typeof get(SETTING_KEYS.threshold) === 'number' ? num(get(SETTING_KEYS.threshold), 0, 0, SKIP_ALL_THRESHOLD) : null,
    skipRate: typeof get(SETTING_KEYS.skipRate) === 'number' ? num(get(SETTING_KEYS.skipRate), 0, 0, MAX_SKIP_RATE) : null,
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

/**
 * The router threshold actually used: dense mode overrides the configured sparsity, and no setting means the loaded
 * model's default (undefined before a model is loaded: the engine then applies its manifest's default itself).
 */
export function effectiveThreshold(s: Pick<SkipgptSettings, 'threshold' | 'denseMode'>, modelDefault?: number): number | undefined {
  return s.denseMode ? 0 : s.threshold ?? modelDefault;
}

/** Accepts a threshold typed by the user ("0.6") and says what is wrong otherwise. */
export function parseThresholdInput(text: string): { value?: number; error?: string } {
  const v = Number(text.trim());
  const range = `0 (dense) … ${SKIP_ALL_THRESHOLD} (skip all)`;
  if (text.trim() === '' || !Number.isFinite(v)) return { error: `Enter a number between ${range}.` };
  if (v < 0 || v > SKIP_ALL_THRESHOLD) return { error: `Threshold ${v} is outside ${range}.` };
  return { value: v };
}
