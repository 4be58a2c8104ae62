// Which model folder to load: the workspace setting only in a trusted workspace, else the user setting, else the
// model bundled with the extension; or a clear "no model" problem telling the user what to do. vscode-free.
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

// The 8-bit build of the default model: 2x faster decode and ~half the memory of the float32 reference build
// (docs/BENCHMARKS.md), for about +0.4% perplexity.
export const DEFAULT_MODEL_SUBDIR = join('models', 'smollm2-135m-skip25-int8');

export interface FolderInputs {
  /** skipgpt.modelFolder from user (global) settings. */
  userValue?: string;
  /** skipgpt.modelFolder from workspace / folder settings. */
  workspaceValue?: string;
  trusted: boolean;
  extensionPath: string;
  workspaceFolder?: string;
  exists: (path: string) => boolean;
}

export interface FolderChoice {
  dir?: string;
  source: 'workspace' | 'user' | 'default' | 'none';
  /** A workspace value was present but ignored because the workspace is not trusted. */
  ignoredWorkspaceValue?: string;
  problem?: string;
}

function expand(p: string, base?: string): string {
  const t = p.trim();
  const home = t === '~' || t.startsWith('~/') ? join(homedir(), t.slice(1)) : t;
  return isAbsolute(home) ? home : resolve(base ?? process.cwd(), home);
}

export function chooseModelFolder(i: FolderInputs): FolderChoice {
  const ws = i.workspaceValue?.trim();
  const user = i.userValue?.trim();
  const ignored = ws && !i.trusted ? ws : undefined;
  // A malicious repository could point the setting at crafted files: untrusted workspaces never choose the model.
  if (ws && i.trusted) return check(expand(ws, i.workspaceFolder), 'workspace', i, ignored);
  if (user) return check(expand(user), 'user', i, ignored);
  const bundled = join(i.extensionPath, DEFAULT_MODEL_SUBDIR);
  if (i.exists(join(bundled, 'manifest.json'))) return { dir: bundled, source: 'default', ignoredWorkspaceValue: ignored };
  return {
    source: 'none', ignoredWorkspaceValue: ignored,
    problem: `No SkipGPT model folder is set and the default model (${DEFAULT_MODEL_SUBDIR}) is not installed. `
      + 'Run "SkipGPT: Choose Model Folder" to pick a folder with manifest.json, or build one (see docs/EXTENSION.md).',
  };
}

function check(dir: string, source: FolderChoice['source'], i: FolderInputs, ignored?: string): FolderChoice {
  if (!i.exists(dir)) {
    return { dir, source, ignoredWorkspaceValue: ignored,
      problem: `SkipGPT model folder ${dir} (from ${source} setting skipgpt.modelFolder) does not exist. `
        + 'Run "SkipGPT: Choose Model Folder" or fix the setting.' };
  }
  return { dir, source, ignoredWorkspaceValue: ignored };
}
