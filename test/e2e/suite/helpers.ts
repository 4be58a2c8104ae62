// Shared helpers of the real-VS-Code suite: the extension's API, polling, workspace files, settings, and screenshots
// taken by the driver outside the host (SKIPGPT_SHOT protocol, see test/e2e/driver.js).
import * as assert from 'node:assert';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { SkipgptApi } from '../../../extension/extension';
import type { TestObserver } from '../../../extension/host/testObserver';

export const ROOT = process.env.SKIPGPT_E2E_ROOT ?? path.resolve(__dirname, '..', '..', '..', '..');
export const ARTIFACTS = process.env.SKIPGPT_E2E_ARTIFACTS ?? path.join(ROOT, 'test-artifacts');
export const TINY = path.join(ROOT, 'test', 'fixtures', 'tiny');
export const TINY_LAYERS = 3;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;
export async function waitFor<T>(fn: () => T | Promise<T>, ms: number, what: string, step = 100): Promise<Truthy<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as Truthy<T>;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(step);
  }
}

let api: TestObserver | undefined;
/** The extension's test observer (activate() returns it only under tests: ExtensionMode.Test). */
export async function getApi(): Promise<TestObserver> {
  if (api) return api;
  const ext = vscode.extensions.getExtension<SkipgptApi>('skipgpt.skipgpt-vscode');
  assert.ok(ext, 'extension skipgpt.skipgpt-vscode is installed in the development host');
  api = (await ext.activate()).test;
  assert.ok(api, 'the extension runs in test mode and returns its test observer');
  return api;
}

export async function setSetting(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('skipgpt').update(key, value, vscode.ConfigurationTarget.Global);
}

/** Opens a workspace file in the first column with the cursor at (line, end of line) or the end of the file. */
export async function openAt(name: string, line?: number): Promise<vscode.TextEditor> {
  const uri = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, name);
  const doc = await vscode.workspace.openTextDocument(uri);
  const editor = await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, preview: false });
  const l = line ?? doc.lineCount - 1;
  const pos = doc.lineAt(l).range.end;
  editor.selection = new vscode.Selection(pos, pos);
  return editor;
}

export async function revert(editor: vscode.TextEditor): Promise<void> {
  await vscode.window.showTextDocument(editor.document, { viewColumn: vscode.ViewColumn.One });
  await vscode.commands.executeCommand('workbench.action.files.revert');
}

export interface FrameCensus { view: string; cells: number; skippedHalves: number; tokens: number; routedTokens: number; denseTokens: number;
  colHeads: number; sessionBars: number; styledBars: number; bars: number; summary: string; divergence: string; error: string; csp: string;
  slider: string; sliderCaption: string; info: string }

/** Asks the driver for a screenshot of the workbench (test-artifacts/<name>.png) and what each webview frame holds. */
export async function shot(name: string): Promise<FrameCensus[]> {
  const done = path.join(ARTIFACTS, `${name}.done`);
  rmSync(done, { force: true });
  console.log(`SKIPGPT_SHOT ${name}`);
  await waitFor(() => existsSync(done), 30000, `screenshot ${name}`);
  return JSON.parse(readFileSync(path.join(ARTIFACTS, `${name}.json`), 'utf8')) as FrameCensus[];
}

/** Asks the driver to act inside a webview like a user (hover, click, slider); returns what it observed there. */
export async function act(view: 'panel' | 'inspector', action: string, arg = ''): Promise<Record<string, unknown>> {
  const name = `act-${view}-${action}`;
  const done = path.join(ARTIFACTS, `${name}.done`);
  rmSync(done, { force: true });
  console.log(`SKIPGPT_ACT ${name} ${view} ${action} ${arg}`);
  await waitFor(() => existsSync(done), 30000, `webview action ${action}`);
  const r = JSON.parse(readFileSync(path.join(ARTIFACTS, `${name}.json`), 'utf8')) as Record<string, unknown>;
  if (r.error) throw new Error(`webview action ${action} failed: ${String(r.error)}`);
  return r;
}

/** What a webview frame holds now, read from its DOM by the driver (with a screenshot `name`). */
export async function census(view: 'panel' | 'inspector', name: string): Promise<FrameCensus | undefined> {
  return (await shot(name)).find((c) => c.view === view);
}
