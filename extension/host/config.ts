// Reads `skipgpt.*` from VS Code's configuration into the typed settings (completion/settings.ts), and the inputs for
// choosing the model folder (user vs workspace value, trust), which model/folder.ts decides on.
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { parseSettings, type SkipgptSettings } from '../completion/settings';
import type { FolderInputs } from '../model/folder';

export const SECTION = 'skipgpt';

export function readSettings(): SkipgptSettings {
  const c = vscode.workspace.getConfiguration(SECTION);
  return parseSettings((k) => c.get(k));
}

export function folderInputs(extensionPath: string): FolderInputs {
  const i = vscode.workspace.getConfiguration(SECTION).inspect<string>('modelFolder');
  const ws = i?.workspaceFolderValue || i?.workspaceValue;
  return {
    userValue: i?.globalValue, workspaceValue: ws, trusted: vscode.workspace.isTrusted, extensionPath,
    workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath, exists: existsSync,
  };
}

export async function updateSetting(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration(SECTION).update(key, value, vscode.ConfigurationTarget.Global);
}
