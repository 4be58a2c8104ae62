// Entry point of the SkipGPT extension: activate() only wires the parts together (engine host, inline provider,
// status bar, commands, panel, inspector) and puts every disposable into context.subscriptions. It returns a small
// API that the real-VS-Code test suite (test/e2e/suite) reads; users never need it.
import * as vscode from 'vscode';
import { CompletionPipeline } from './completion/pipeline';
import type { BenchmarkResult } from './routing/benchmark';
import { readSettings, SECTION } from './host/config';
import { registerCommands } from './host/commands';
import { EngineHost } from './host/engineHost';
import { SkipgptInlineProvider } from './host/inline';
import { CachePrimer } from './host/primer';
import { RoutingInspector } from './host/inspector';
import { SkipRatePanel } from './host/panel';
import { SkipgptStatusBar } from './host/statusBar';

export interface SkipgptApi {
  host: EngineHost;
  pipeline: CompletionPipeline;
  provider: SkipgptInlineProvider;
  primer: CachePrimer;
  inspector: RoutingInspector;
  status: SkipgptStatusBar;
  panel(): SkipRatePanel | undefined;
  lastBenchmark?: { result: BenchmarkResult; report: string };
}

/** The engine host of the active extension, for deactivate(). */
let current: EngineHost | undefined;

export function activate(context: vscode.ExtensionContext): SkipgptApi {
  // Before any engine loads onnxruntime-node (the engine process gets it too): no telemetry, no stray files.
  process.env.ORT_DISABLE_TELEMETRY = '1';
  const log = vscode.window.createOutputChannel('SkipGPT', { log: true });
  context.subscriptions.push(log);
  let settings = readSettings();
  const getSettings = () => settings;

  const host = new EngineHost(context.extensionPath, log, getSettings, context.globalStorageUri.fsPath);
  current = host;
  context.subscriptions.push(host);
  const pipeline = new CompletionPipeline({
    engine: () => (host.state === 'ready' || host.state === 'generating' ? host : undefined),
    settings: getSettings,
    specialTokens: () => host.specialTokens,
    cacheContext: () => host.modelDir ?? '',
  });
  const provider = new SkipgptInlineProvider(pipeline, host);
  const primer = new CachePrimer(pipeline, host, getSettings, log);
  context.subscriptions.push(primer);
  const status = new SkipgptStatusBar(host, getSettings);
  context.subscriptions.push(status);

  // The provider is registered only for the enabled languages; re-registered when those settings change.
  let registration: vscode.Disposable | undefined;
  const register = () => {
    registration?.dispose();
    registration = settings.inlineEnabled && settings.languages.length
      ? vscode.languages.registerInlineCompletionItemProvider(
        settings.languages.flatMap((language) => [{ language, scheme: 'file' }, { language, scheme: 'untitled' }]), provider)
      : undefined;
  };
  register();
  context.subscriptions.push({ dispose: () => registration?.dispose() });

  let lastEditor = vscode.window.activeTextEditor;
  context.subscriptions.push(vscode.window.onDidChangeActiveTextEditor((e) => { if (e) lastEditor = e; }));
  context.subscriptions.push(vscode.workspace.onDidCloseTextDocument((d) => pipeline.cache.forget(d.uri.toString())));

  const inspector = new RoutingInspector(context.extensionUri, host, getSettings);
  context.subscriptions.push(inspector,
    vscode.window.registerWebviewViewProvider(RoutingInspector.viewType, inspector, { webviewOptions: { retainContextWhenHidden: true } }));

  const api: SkipgptApi = { host, pipeline, provider, primer, inspector, status, panel: () => SkipRatePanel.instance };
  context.subscriptions.push(...registerCommands({
    extensionUri: context.extensionUri, host, provider, settings: getSettings, lastEditor: () => vscode.window.activeTextEditor ?? lastEditor, log,
    onBenchmark: (result, report) => { api.lastBenchmark = { result, report }; },
  }));
  context.subscriptions.push({ dispose: () => SkipRatePanel.instance?.dispose() });

  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((e) => {
    if (!e.affectsConfiguration(SECTION)) return;
    settings = readSettings();
    if (['modelFolder', 'executionProvider', 'threads'].some((k) => e.affectsConfiguration(`${SECTION}.${k}`))) {
      pipeline.cache.clear();
      void host.load(true);
    }
    if (e.affectsConfiguration(`${SECTION}.languages`) || e.affectsConfiguration(`${SECTION}.inlineCompletions.enabled`)) register();
    status.update();
  }));
  context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => { void host.load(); }));

  // Load in the background (engine process, progress in the status bar); the host never waits on it.
  void host.ensureLoaded();
  log.info(`SkipGPT activated (VS Code ${vscode.version}, Node ${process.versions.node})`);
  return api;
}

/** VS Code awaits this: the engine process is told to free the model and exit (killed after a deadline). The rest of
 * context.subscriptions is disposed by VS Code. */
export function deactivate(): Promise<void> | undefined {
  const h = current;
  current = undefined;
  return h?.dispose();
}
