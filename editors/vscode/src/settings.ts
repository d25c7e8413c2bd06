/**
 * The `butler` settings object that butler-ls receives: what the user set in VS Code,
 * camelCase as on the wire, without the keys that configure only this extension.
 */
import * as vscode from 'vscode';

export const SECTION = 'butler';

/** Top-level keys of the `butler` section that the extension reads and the server must not see. */
const EXTENSION_ONLY = new Set(['server', 'trace']);

/** Top-level keys the server reads only when it starts. */
export const READ_AT_START = ['server', 'plugins', 'queue'];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; anything else replaces the earlier value (as the server merges). */
function merge(earlier: Json | undefined, later: Json): Json {
  if (!isObject(earlier) || !isObject(later)) {
    return later;
  }
  const result: JsonObject = { ...earlier };
  for (const [key, value] of Object.entries(later)) {
    result[key] = merge(result[key], value);
  }
  return result;
}

/**
 * The settings the user set (user, workspace and folder scopes, the later winning).
 * Defaults from package.json are left out on purpose: they would override the user's
 * ~/.config/butler/config.yaml, which the server reads first.
 */
export function serverSettings(scope?: vscode.Uri): JsonObject {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  const result: JsonObject = {};
  for (const key of Object.keys(config)) {
    if (EXTENSION_ONLY.has(key) || typeof (config as unknown as JsonObject)[key] === 'function') {
      continue;
    }
    const inspected = config.inspect<Json>(key);
    let value: Json | undefined;
    for (const layer of [inspected?.globalValue, inspected?.workspaceValue, inspected?.workspaceFolderValue]) {
      if (layer !== undefined) {
        value = merge(value, layer);
      }
    }
    if (value !== undefined) {
      result[key] = value;
    }
  }
  return result;
}
