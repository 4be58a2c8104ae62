// Entry point of the SkipGPT extension: activate() only wires the parts together (engine host, engine gate, traces,
// inline provider, cache primer, status bar, commands, panel, inspector) and puts every disposable into
// context.subscriptions. Under its tests (ExtensionMode.Test) it returns the one test observer; otherwise nothing.
import * as vscode from 'vscode';
import { CompletionPipeline } from './completion/pipeline';
import { readSettings, SECTION } from './host/config';
import { registerCommands } from './host/commands';
import { EngineGate } from './host/engineGate';
import { EngineHost } from './host/engineHost';
import { SkipgptInlineProvider } from './host/inline';
import { RoutingInspector } from './host/inspector';
import { Notifier } from './host/notifier';
import { SkipRatePanel, type PanelDeps } from './host/panel';
import { CachePrimer } from './host/primer';
import { SparsityFallbackNotice } from './host/sparsityNotice';
import { SkipgptStatusBar } from './host/statusBar';
import { createTestObserver, type TestObserver } from './host/testObserver';
import { TraceRecorder } from './host/traceRecorder';

export interface SkipgptApi {
  /** Only when the extension runs under its tests. */
  test?: TestObserver;
}

/** The engine host of the active extension, for deactivate(). */
let current: EngineHost | undefined;

export function activate(context: vscode.ExtensionContext): SkipgptApi {
  // Before any engine loads onnxruntime-node (the engine process gets it too): no telemetry, no stray files.
  process.env.ORT_DISABLE_TELEMETRY = '1';
  const observer = createTestObserver(context.extensionMode);
  const log = vscode.window.createOutputChannel('SkipGPT', { log: true });
  context.subscriptions.push(log);
  let settings = readSettings();
  const getSettings = () => settings;

  const notifier = new Notifier(observer);
  const host = new EngineHost(context.extensionPath, log, getSettings, notifier, context.globalStorageUri.fsPath);
  current = host;
  const traces = new TraceRecorder();
  const gate = new EngineGate(host, traces, observer);
  context.subscriptions.push(host, traces, gate);
  const pipeline = new CompletionPipeline({
    engine: () => (host.ready ? gate : undefined),
    settings: getSettings,
    model: () => ({ specialTokens: host.info?.specialTokens ?? [], thresholdDefault: host.info?.thresholdDefault,
      calibration: host.info?.calibration }),
    cacheContext: () => host.info?.modelDir ?? '',
  });
  const provider = new SkipgptInlineProvider(pipeline, host, observer);
  const primer = new CachePrimer(pipeline, host, getSettings, log, observer);
  const status = new SkipgptStatusBar(host, gate, traces, getSettings);
  const sparsityNotice = new SparsityFallbackNotice(host, getSettings, log, notifier);
  context.subscriptions.push(provider, primer, status, sparsityNotice);

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
  const editor = () => vscode.window.activeTextEditor ?? lastEditor;
  context.subscriptions.push(vscode.window.onDidChangeActiveTextEditor((e) => { if (e) lastEditor = e; }));
  context.subscriptions.push(vscode.workspace.onDidCloseTextDocument((d) => pipeline.cache.forget(d.uri.toString())));

  const inspector = new RoutingInspector(context.extensionUri, host, gate, traces, getSettings);
  context.subscriptions.push(inspector,
    vscode.window.registerWebviewViewProvider(RoutingInspector.viewType, inspector, { webviewOptions: { retainContextWhenHidden: true } }));

  const panel: PanelDeps = { extensionUri: context.extensionUri, host, engine: gate, settings: getSettings, editor, observer };
  context.subscriptions.push(...registerCommands({ host, gate, traces, notifier, panel, provider, settings: getSettings,
    lastEditor: editor, log, observer }));
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
    sparsityNotice.check();
    inspector.refresh();
  }));
  context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => { void host.load(); }));

  observer?.attach({
    state: () => (host.ready && gate.busy ? 'generating' : host.state), info: () => host.info, modelDir: () => host.info?.modelDir,
    pid: () => host.pid, lastTrace: () => traces.last, status: () => status.shown,
    complete: (req, opts) => gate.complete(req, opts), ensureLoaded: () => host.ensureLoaded(),
    resetRestarts: () => host.restarts.reset(), rerun: (t) => inspector.rerun(t), onDidChange: host.onDidChange,
  });

  // Load in the background (engine process, progress in the status bar); the host never waits on it.
  void host.ensureLoaded();
  log.info(`SkipGPT activated (VS Code ${vscode.version}, Node ${process.versions.node})`);
  return { test: observer };
}

/** VS Code awaits this: the engine process is told to free the model and exit (killed after a deadline). The rest of
 * context.subscriptions is disposed by VS Code. */
export function deactivate(): Promise<void> | undefined {
  const h = current;
  current = undefined;
  return h?.dispose();
}
