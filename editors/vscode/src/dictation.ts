/**
 * Shows dictation as the server reports it (`butler/dictationState`): a status bar item with
 * the microphone state, a level meter, the pending count and the language heard (`FR`), and
 * the provisional words inline.
 */
import * as vscode from 'vscode';

export const DICTATION_STATE = 'butler/dictationState';

/** The `butler/dictationState` notification's params. */
export interface DictationState {
  sessionId: string;
  state: 'listening' | 'transcribing' | 'idle' | 'error';
  /** Input level in dBFS. */
  level?: number | null;
  pending?: number;
  message?: string | null;
  /** Provisional words of the utterance being spoken; absent or empty when none. */
  partial?: string | null;
  uri?: string | null;
  position?: { line: number; character: number } | null;
  target?: 'cursor' | 'dailyNote';
  source?: 'microphone' | 'file';
  /** The session's language code (`fr`), once known. */
  language?: string | null;
  /** Whether `language` was detected (a multilingual model) rather than set. */
  languageDetected?: boolean;
}

/** The language as the status bar shows it (`FR`): when it was detected or is not English. */
export function languageTag(state: Pick<DictationState, 'language' | 'languageDetected'>): string {
  const language = state.language;
  if (!language || (language === 'en' && !state.languageDetected)) {
    return '';
  }
  return ` ${language.toUpperCase()}`;
}

const BARS = '▁▂▃▅▇';
const UNLIT = '\u2007'; // a figure space keeps the item's width steady
const SILENCE_DBFS = -60;

/** A five-bar meter for an input level in dBFS: silence (-60 dBFS and below) is one bar, 0 dBFS all five. */
export function levelMeter(dbfs: number | null | undefined): string {
  const level = typeof dbfs === 'number' && !Number.isNaN(dbfs) ? dbfs : SILENCE_DBFS;
  const fraction = Math.min(1, Math.max(0, (level - SILENCE_DBFS) / -SILENCE_DBFS));
  const lit = Math.max(1, Math.round(fraction * BARS.length));
  return BARS.slice(0, lit) + UNLIT.repeat(BARS.length - lit);
}

export class DictationView implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('butler.dictation', vscode.StatusBarAlignment.Left, 100);
  private readonly partialText = vscode.window.createTextEditorDecorationType({
    after: {
      color: new vscode.ThemeColor('editorGhostText.foreground'),
      fontStyle: 'italic',
      margin: '0 0 0 0.2em',
    },
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  /** Sessions that have not ended, by id, most recently updated last. */
  private readonly sessions = new Map<string, DictationState>();
  private readonly listeners: vscode.Disposable[];
  private dictating = false;
  private server: 'starting' | 'running' | 'stopped' = 'starting';

  constructor() {
    this.item.name = 'Butler Dictation';
    this.item.command = 'butler.dictation.toggle';
    this.listeners = [vscode.window.onDidChangeVisibleTextEditors(() => this.renderPartials())];
    this.render();
    this.item.show();
  }

  /** Take in one notification from the server. */
  update(state: DictationState): void {
    if (typeof state?.sessionId !== 'string') {
      return;
    }
    this.sessions.delete(state.sessionId);
    if (state.state === 'error') {
      void vscode.window.showErrorMessage(`Butler dictation: ${state.message || 'failed'}`);
    } else if (state.state !== 'idle') {
      this.sessions.set(state.sessionId, state);
    }
    this.render();
    this.renderPartials();
  }

  /** Follow the server: sessions end when it stops, and the item says when it is not up. */
  setServer(state: 'starting' | 'running' | 'stopped'): void {
    this.server = state;
    if (state !== 'running') {
      this.sessions.clear();
      this.renderPartials();
    }
    this.render();
  }

  dispose(): void {
    this.listeners.forEach((listener) => listener.dispose());
    this.item.dispose();
    this.partialText.dispose();
    void this.setDictating(false);
  }

  private render(): void {
    const current = [...this.sessions.values()].pop();
    void this.setDictating(current !== undefined);
    const item = this.item;
    item.command = this.server === 'stopped' ? 'butler.showOutput' : 'butler.dictation.toggle';
    if (this.server !== 'running') {
      const starting = this.server === 'starting';
      item.text = starting ? '$(sync~spin) Butler' : '$(warning) Butler';
      item.tooltip = starting ? 'Butler: starting butler-ls' : 'Butler: butler-ls is not running; click for its output';
      item.accessibilityInformation = { label: `Butler server: ${starting ? 'starting' : 'not running'}` };
      item.backgroundColor = undefined;
      return;
    }
    if (current === undefined) {
      item.text = '$(mic) Butler';
      item.tooltip = 'Butler: start dictation at the cursor';
      item.accessibilityInformation = { label: 'Butler dictation: idle' };
      item.backgroundColor = undefined;
      return;
    }
    const pending = (current.pending ? ` $(clock) ${current.pending}` : '') + languageTag(current);
    const where = current.target === 'dailyNote' ? "into today's note" : 'at the cursor';
    const from = current.source === 'file' ? 'from a recording' : 'from the microphone';
    const heard = current.language ? `, language ${current.language}` : '';
    item.accessibilityInformation = { label: `Butler dictation: ${current.state}, ${current.pending ?? 0} pending${heard}` };
    if (current.state === 'listening') {
      item.text = `$(record) ${levelMeter(current.level)}${pending}`;
      item.tooltip = `Butler is listening ${from}, writing ${where}; ${current.pending ?? 0} pending. Click to stop.`;
      item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    } else {
      item.text = `$(sync~spin) Butler${pending}`;
      item.tooltip = `Butler is transcribing ${from}, writing ${where}; ${current.pending ?? 0} pending. Click to stop.`;
      item.backgroundColor = undefined;
    }
  }

  /** Show each session's provisional words after its dictation point, in the editors showing it. */
  private renderPartials(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const uri = editor.document.uri.toString();
      const decorations: vscode.DecorationOptions[] = [];
      for (const session of this.sessions.values()) {
        if (session.partial && session.position && session.uri && sameUri(session.uri, uri)) {
          const at = editor.document.validatePosition(
            new vscode.Position(session.position.line, session.position.character),
          );
          decorations.push({
            range: new vscode.Range(at, at),
            renderOptions: { after: { contentText: session.partial } },
          });
        }
      }
      editor.setDecorations(this.partialText, decorations);
    }
  }

  private async setDictating(dictating: boolean): Promise<void> {
    if (dictating !== this.dictating) {
      this.dictating = dictating;
      await vscode.commands.executeCommand('setContext', 'butler.dictating', dictating);
    }
  }
}

/** URIs from the server may encode characters differently than VS Code prints them. */
function sameUri(fromServer: string, fromEditor: string): boolean {
  return fromServer === fromEditor || vscode.Uri.parse(fromServer).toString() === fromEditor;
}
