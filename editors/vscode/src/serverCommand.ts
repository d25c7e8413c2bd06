/**
 * How to start butler-ls: the `butler.server.path` setting, else `butler-ls` on PATH,
 * else `-P -m butler_ls` with the Python extension's interpreter, else `python3 -P -m butler_ls`.
 * `-P` (Python 3.11+) keeps the working directory off `sys.path` (and the server starts in the
 * home folder, see extension.ts): a `butler_ls/` folder in an opened workspace is never imported.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { SECTION } from './settings';

export interface ServerCommand {
  command: string;
  args: string[];
  /** Where the command came from, for the log and error messages. */
  source: string;
}

const MODULE_ARGS = ['-P', '-m', 'butler_ls'];

export async function findServer(): Promise<ServerCommand> {
  const configured = vscode.workspace.getConfiguration(SECTION).get<string>('server.path', '').trim();
  if (configured) {
    return { command: expandHome(configured), args: [], source: 'butler.server.path' };
  }
  const onPath = findOnPath('butler-ls');
  if (onPath) {
    return { command: onPath, args: [], source: 'PATH' };
  }
  const python = await selectedPython();
  if (python) {
    return { command: python, args: MODULE_ARGS, source: 'the Python extension' };
  }
  const fallback = process.platform === 'win32' ? 'python' : 'python3';
  return { command: fallback, args: MODULE_ARGS, source: 'fallback: no butler-ls on PATH' };
}

function expandHome(file: string): string {
  return file === '~' || file.startsWith('~/') ? path.join(os.homedir(), file.slice(1)) : file;
}

function findOnPath(name: string): string | undefined {
  const extensions = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const folder of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const extension of extensions) {
      const candidate = path.join(folder, name + extension);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        if (fs.statSync(candidate).isFile()) {
          return candidate;
        }
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** The parts of the Python extension's API used here; it may be absent or older. */
interface PythonApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(env: { path: string }): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
  settings?: {
    getExecutionDetails(resource?: vscode.Uri): { execCommand: string[] | undefined };
  };
}

async function selectedPython(): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension<PythonApi>('ms-python.python');
  if (!extension) {
    return undefined;
  }
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
    if (api.environments) {
      const environment = await api.environments.resolveEnvironment(
        api.environments.getActiveEnvironmentPath(resource),
      );
      const executable = environment?.executable.uri?.fsPath;
      if (executable) {
        return executable;
      }
    }
    return api.settings?.getExecutionDetails(resource).execCommand?.[0];
  } catch {
    return undefined;
  }
}
