/**
 * Butler for VS Code: starts the butler-ls language server with vscode-languageclient and
 * wires its commands, settings and dictation state into the editor.
 */
import * as os from 'os';
import * as vscode from 'vscode';
import {
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';
import { SERVER_COMMANDS, commandMiddleware, registerOwnCommands, registerStandIns } from './commands';
import { DICTATION_STATE, DictationState, DictationView } from './dictation';
import { findServer } from './serverCommand';
import { READ_AT_START, SECTION, serverSettings } from './settings';

let client: LanguageClient | undefined;
/** Settles once the latest start of the server has succeeded or failed. */
let started: Promise<void> = Promise.resolve();
let clientListeners: vscode.Disposable[] = [];
let standIns: vscode.Disposable[] = [];
let output: vscode.LogOutputChannel;
let dictation: DictationView;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel('Butler', { log: true });
  dictation = new DictationView();
  context.subscriptions.push(
    output,
    dictation,
    ...registerOwnCommands(restart, () => started, output),
    vscode.workspace.onDidChangeConfiguration(offerRestart),
    { dispose: () => replaceStandIns([], '') },
  );
  started = startClient();
  await started;
}

export async function deactivate(): Promise<void> {
  await stopClient();
}

async function startClient(): Promise<void> {
  const server = await findServer();
  output.info(`Starting ${server.command} ${server.args.join(' ')} (from ${server.source})`);
  // stdio without a transport kind: TransportKind.stdio would add a --stdio argument.
  // Started in the home folder, never the workspace: nothing the workspace holds is on its path.
  const serverOptions: ServerOptions = {
    command: server.command,
    args: server.args,
    options: { cwd: os.homedir() },
  };
  const toProtocol = (uri: vscode.Uri) => newClient.code2ProtocolConverter.asUri(uri);
  const clientOptions: LanguageClientOptions = {
    // Every file and unsaved buffer: dictation and note edits may land in any of them.
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    outputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    initializationOptions: () => serverSettings(),
    synchronize: { configurationSection: SECTION },
    middleware: {
      executeCommand: commandMiddleware(output, toProtocol),
      workspace: {
        // Answer for section "butler" with what the user set, without the extension's keys.
        configuration: async (params, token, next) => {
          const answers = await next(params, token);
          if (!Array.isArray(answers)) {
            return answers;
          }
          return params.items.map((item, index) =>
            item.section === SECTION
              ? serverSettings(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined)
              : answers[index],
          );
        },
        // Send no values along: the server then asks workspace/configuration, answered above.
        didChangeConfiguration: (_sections, next) => next(undefined),
      },
    },
  };
  const newClient = new LanguageClient('butler', 'Butler', serverOptions, clientOptions);
  const commandLine = [server.command, ...server.args].join(' ');
  client = newClient;
  clientListeners = [
    newClient.onNotification(DICTATION_STATE, (state: DictationState) => dictation.update(state)),
    newClient.onDidChangeState(({ newState }) => onStateChange(newClient, newState, commandLine)),
  ];
  try {
    await newClient.start();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    output.error(`butler-ls did not start: ${message}`);
    void vscode.window
      .showErrorMessage(
        `Butler: could not start ${server.command} (from ${server.source}): ${message}. ` +
          'Install Butler (from a clone of Butler: pipx install .) or set butler.server.path.',
        'Open Settings',
        'Show Output',
      )
      .then((choice) => {
        if (choice === 'Open Settings') {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'butler.server.path');
        } else if (choice === 'Show Output') {
          output.show();
        }
      });
  }
}

function onStateChange(of: LanguageClient, state: State, command: string): void {
  if (state === State.Starting) {
    // The client registers the server's commands while starting; stand-ins would clash.
    replaceStandIns([], '');
    dictation.setServer('starting');
    return;
  }
  if (state === State.Running) {
    dictation.setServer('running');
    const offered = new Set(of.initializeResult?.capabilities.executeCommandProvider?.commands ?? []);
    replaceStandIns(
      SERVER_COMMANDS.filter((id) => !offered.has(id)),
      'this version of butler-ls does not offer it; update Butler',
    );
    return;
  }
  dictation.setServer('stopped');
  replaceStandIns(
    SERVER_COMMANDS,
    `the server (${command}) is not running. Install Butler or set butler.server.path, ` +
      'then run Butler: Restart Server; details in Output › Butler',
  );
}

function replaceStandIns(ids: string[], why: string): void {
  standIns.forEach((standIn) => standIn.dispose());
  standIns = registerStandIns(ids, (id) => `Butler: ${id} is unavailable: ${why}.`);
}

async function stopClient(): Promise<void> {
  const old = client;
  client = undefined;
  if (old === undefined) {
    return;
  }
  try {
    await old.dispose();
  } catch (error) {
    output.warn(`butler-ls did not stop cleanly: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clientListeners.forEach((listener) => listener.dispose());
    clientListeners = [];
    dictation.setServer('stopped');
  }
}

async function restart(): Promise<void> {
  output.info('Restarting butler-ls');
  await stopClient();
  started = startClient();
  await started;
}

async function offerRestart(event: vscode.ConfigurationChangeEvent): Promise<void> {
  const changed = READ_AT_START.filter((key) => event.affectsConfiguration(`${SECTION}.${key}`));
  if (changed.length === 0) {
    return;
  }
  const choice = await vscode.window.showInformationMessage(
    `Butler reads butler.${changed[0]}.* when it starts. Restart the server now?`,
    'Restart',
  );
  if (choice === 'Restart') {
    await restart();
  }
}
