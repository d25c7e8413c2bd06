#!/usr/bin/env bash
# Builds editors/vscode/butler.vsix: npm ci from the committed package-lock.json, then vsce
# package, whose vscode:prepublish script type-checks (tsc) and bundles (esbuild).
# Network: the npm registry only. Safe to rerun.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

command -v npm >/dev/null || { echo "build.sh: npm (Node >= 20) is required" >&2; exit 1; }
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' ||
  { echo "build.sh: Node >= 20 is required, found $(node --version)" >&2; exit 1; }

# npm ci again only when the lock file changed since the last install.
if ! cmp -s package-lock.json node_modules/.installed-lock.json; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.installed-lock.json
fi
rm -rf out butler.vsix
# vsce runs the vscode:prepublish script (npm run compile) first, as it does for anyone
# who packages the extension with a plain `vsce package` or `npm run package`.
npx --no-install vsce package --no-dependencies --skip-license --allow-missing-repository \
  --out butler.vsix >/dev/null
test -s butler.vsix && test -s out/extension.js
echo "built $(pwd)/butler.vsix ($(du -k butler.vsix | cut -f1) KB)"
