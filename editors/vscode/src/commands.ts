/**
 * Butler's commands in VS Code. The server's own ids are registered by the language client;
 * this module fills in their arguments from the editor (middleware) and adds a few ids of its own.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import type { Middleware } from 'vscode-languageclient/node';

/** Server commands that package.json contributes (titles, keybindings); the client registers them. */
export const SERVER_COMMANDS = [
  'butler.dictation.toggle',
  'butler.dictation.start',
  'butler.dictation.stop',
  'butler.dictation.cancel',
  'butler.note.open',
  'butler.note.append',
  'butler.transcribeFile',
  'butler.status',
  'butler.queue.status',
  'butler.plugins.list',
];

const AUDIO_EXTENSIONS = ['wav', 'mp3', 'm4a', 'ogg', 'opus', 'flac', 'webm', 'aac', 'mp4', 'mkv', 'mov'];

type Arguments = Record<string, unknown>;
type ToProtocolUri = (uri: vscode.Uri) => string;

/** Where the cursor is: the document and position a dictation or transcription writes to. */
function cursor(toProtocol: ToProtocolUri): Arguments | undefined {
  const editor = vscode.window.activeTextEditor;
  // Only documents the server knows (it is sent files and unsaved buffers), not the output panel.
  if (!editor || !['file', 'untitled'].includes(editor.document.uri.scheme)) {
    return undefined;
  }
  const { line, character } = editor.selection.active;
  return { uri: toProtocol(editor.document.uri), position: { line, character } };
}

async function pickAudioFile(openLabel: string): Promise<string | undefined> {
  const files = await vscode.window.showOpenDialog({
    canSelectMany: false,
    openLabel,
    filters: { Audio: AUDIO_EXTENSIONS, 'All files': ['*'] },
  });
  return files?.[0]?.fsPath;
}

/** The argument object a palette or key invocation lacks; undefined when the user cancelled. */
async function fillArguments(command: string, given: Arguments, toProtocol: ToProtocolUri): Promise<Arguments | undefined> {
  switch (command) {
    case 'butler.dictation.start':
    case 'butler.dictation.toggle': {
      if (given.target === 'dailyNote' || given.uri !== undefined) {
        return given;
      }
      const at = cursor(toProtocol);
      return at ? { target: 'cursor', ...at, ...given } : { target: 'dailyNote', ...given };
    }
    case 'butler.note.open': {
      if (given.date !== undefined) {
        return given;
      }
      const date = await pickDate();
      return date === undefined ? undefined : { ...given, date };
    }
    case 'butler.note.append': {
      if (typeof given.text === 'string' && given.text.trim()) {
        return given;
      }
      const text = await vscode.window.showInputBox({
        title: 'Butler: Append to Daily Note',
        prompt: `Add an entry to ${given.date ? `the note of ${given.date}` : "today's note"}`,
        placeHolder: 'called the bank',
        ignoreFocusOut: true,
        validateInput: (value) => (value.trim() ? undefined : 'Type the entry, or press Escape'),
      });
      return text === undefined ? undefined : { ...given, text };
    }
    case 'butler.transcribeFile': {
      const file = typeof given.path === 'string' ? given.path : await pickAudioFile('Transcribe');
      if (file === undefined) {
        return undefined;
      }
      const at = given.target === undefined ? cursor(toProtocol) : undefined;
      const target = at ? { target: 'cursor', ...at } : { target: 'newDocument' };
      return { ...target, ...given, path: file };
    }
    default:
      return given;
  }
}

async function pickDate(): Promise<string | undefined> {
  const picker = vscode.window.createQuickPick();
  picker.title = 'Butler: Open Daily Note';
  picker.placeholder = 'today, yesterday, tomorrow, 2026-03-04, -3, friday, next monday…';
  const days = ['today', 'yesterday', 'tomorrow'].map((label) => ({ label }));
  picker.items = days;
  picker.onDidChangeValue((value) => {
    picker.items = value.trim() && !days.some((day) => day.label === value.trim()) ? [{ label: value.trim() }, ...days] : days;
  });
  return new Promise((resolve) => {
    picker.onDidAccept(() => {
      resolve(picker.selectedItems[0]?.label ?? (picker.value.trim() || undefined));
      picker.hide();
    });
    picker.onDidHide(() => {
      resolve(undefined);
      picker.dispose();
    });
    picker.show();
  });
}

/** One line a person reads first: version, plugins, worker, queue, model, microphone. */
export function statusSummary(answer: unknown): string {
  const status = (answer ?? {}) as {
    version?: string;
    plugins?: { state?: string }[];
    worker?: { state?: string };
    queue?: { backend?: string; pending?: number };
    model?: { name?: string; loaded?: boolean };
    audio?: { available?: boolean; reason?: string };
  };
  const states = new Map<string, number>();
  for (const plugin of status.plugins ?? []) {
    states.set(plugin.state ?? '?', (states.get(plugin.state ?? '?') ?? 0) + 1);
  }
  const plugins = [...states].map(([state, count]) => `${count} ${state}`).join(', ');
  const audio = status.audio?.available ? 'available' : `unavailable (${status.audio?.reason ?? 'no reason given'})`;
  return (
    `Butler ${status.version ?? '?'}: plugins ${plugins || 'none'}; worker ${status.worker?.state ?? '?'}; ` +
    `queue ${status.queue?.backend ?? '?'}, ${status.queue?.pending ?? 0} pending; ` +
    `model ${status.model?.name ?? '?'}${status.model?.loaded ? ' (loaded)' : ''}; microphone ${audio}`
  );
}

/** What the user sees once a command answered. */
function showAnswer(command: string, answer: unknown, output: vscode.OutputChannel): void {
  switch (command) {
    case 'butler.status':
    case 'butler.queue.status':
    case 'butler.plugins.list':
      output.appendLine(`${command}:\n${JSON.stringify(answer, null, 2)}`);
      if (command === 'butler.status') {
        output.appendLine(statusSummary(answer));
      }
      output.show(true);
      break;
    case 'butler.note.append': {
      const note = (answer as { path?: string } | null)?.path;
      if (note) {
        vscode.window.setStatusBarMessage(`$(check) Butler: added to ${path.basename(note)}`, 4000);
      }
      break;
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The client middleware for `workspace/executeCommand`. */
export function commandMiddleware(output: vscode.OutputChannel, toProtocol: ToProtocolUri): Middleware['executeCommand'] {
  return async (command, args, next) => {
    const first: unknown = args[0];
    const given: Arguments = typeof first === 'object' && first !== null ? { ...(first as Arguments) } : {};
    const filled = await fillArguments(command, given, toProtocol);
    if (filled === undefined) {
      return undefined;
    }
    try {
      const answer: unknown = await next(command, [filled]);
      showAnswer(command, answer, output);
      return answer;
    } catch (error) {
      if (!(error instanceof vscode.CancellationError)) {
        void vscode.window.showErrorMessage(`Butler: ${messageOf(error)}`);
      }
      return undefined;
    }
  };
}

/** Commands that are the extension's own, not the server's. */
export function registerOwnCommands(
  restart: () => Promise<void>,
  serverStarted: () => Promise<void>,
  output: vscode.OutputChannel,
): vscode.Disposable[] {
  // The server's commands exist once the client has started (or their stand-ins once it failed).
  const run = async (command: string, argument: Arguments) => {
    await serverStarted();
    return vscode.commands.executeCommand(command, argument);
  };
  return [
    vscode.commands.registerCommand('butler.restart', restart),
    vscode.commands.registerCommand('butler.showOutput', () => output.show()),
    vscode.commands.registerCommand('butler.voiceNote', () => run('butler.dictation.toggle', { target: 'dailyNote' })),
    vscode.commands.registerCommand('butler.dictateRecording', async () => {
      const audioFile = await pickAudioFile('Dictate');
      return audioFile === undefined ? undefined : run('butler.dictation.start', { audioFile });
    }),
    vscode.commands.registerCommand('butler.note.openToday', () => run('butler.note.open', { date: 'today' })),
    vscode.commands.registerCommand('butler.note.openYesterday', () => run('butler.note.open', { date: 'yesterday' })),
    vscode.commands.registerCommand('butler.note.openTomorrow', () => run('butler.note.open', { date: 'tomorrow' })),
  ];
}

/**
 * Stand-ins for server commands that no running server offers, so the palette explains
 * instead of saying "command not found". They must be gone before the client starts.
 */
export function registerStandIns(ids: string[], reason: (id: string) => string): vscode.Disposable[] {
  return ids.map((id) =>
    vscode.commands.registerCommand(id, () => {
      void vscode.window.showErrorMessage(reason(id), 'Show Output').then((choice) => {
        if (choice) {
          void vscode.commands.executeCommand('butler.showOutput');
        }
      });
    }),
  );
}
