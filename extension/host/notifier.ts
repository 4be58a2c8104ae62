// User-facing messages of the extension: one place that shows them with their actions ("Choose Model Folder",
// "Restart Engine") and runs the action picked. Each shown message is also reported to the test observer.
import * as vscode from 'vscode';
import type { TestObserver } from './testObserver';

export const CHOOSE_FOLDER = 'Choose Model Folder';
export const RESTART_ENGINE = 'Restart Engine';

const ACTIONS: Record<string, string> = { [CHOOSE_FOLDER]: 'skipgpt.chooseModelFolder', [RESTART_ENGINE]: 'skipgpt.restartEngine' };

export class Notifier {
  constructor(private readonly observer?: TestObserver) {}

  async notify(level: 'warn' | 'error' | 'info', message: string, ...actions: string[]): Promise<string | undefined> {
    this.observer?.messages.push(message);
    const show = level === 'error' ? vscode.window.showErrorMessage : level === 'warn' ? vscode.window.showWarningMessage
      : vscode.window.showInformationMessage;
    const pick = await show(message, ...actions);
    if (pick && ACTIONS[pick]) await vscode.commands.executeCommand(ACTIONS[pick]);
    return pick;
  }
}
