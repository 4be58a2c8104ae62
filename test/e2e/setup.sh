#!/bin/bash
# Installs the offline real-VS-Code test harness into .vscode-e2e/ (gitignored): Debian chromium, libkrb5-dev,
# ripgrep, strace and a software Vulkan device (tests only), then code-server@4.100.3 (its VS Code 1.100.3 server
# runs on Node 20) and playwright-core.
# Offline fixes for code-server's postinstall: @vscode/ripgrep's download cache is pre-seeded with Debian's rg,
# kerberos builds from source (libkrb5-dev), node-pty runs `npx node-gyp` (npm_config_yes) as root (unsafe_perm).
set -euo pipefail
cd "$(dirname "$0")/../.."
E2E_DIR="${E2E_DIR:-$PWD/.vscode-e2e}"
T0=$(date +%s)
if ! command -v chromium >/dev/null || ! command -v rg >/dev/null || ! [ -e /usr/include/gssapi/gssapi.h ] || ! command -v strace >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libkrb5-dev ripgrep strace >/dev/null
fi
# A GPU to test against, for TESTS ONLY: Mesa's software Vulkan device (lavapipe) gives onnxruntime-node's WebGPU
# provider a real adapter on every machine, so the GPU graph and `auto` are exercised in CI. Dawn refuses
# bookworm's Mesa 22.3 ("shaderUniform*ArrayDynamicIndexing required"); bookworm-backports has 25.x. Users' GPUs
# need none of this.
if [ "$(id -u)" = 0 ] && ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
  . /etc/os-release
  echo "deb http://deb.debian.org/debian ${VERSION_CODENAME}-backports main" > /etc/apt/sources.list.d/skipgpt-backports.list
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t "${VERSION_CODENAME}-backports" mesa-vulkan-drivers >/dev/null
fi
echo "setup: apt done after $(( $(date +%s) - T0 ))s"
if [ -x "$E2E_DIR/node_modules/code-server/lib/vscode/out/server-main.js" ] || [ -f "$E2E_DIR/node_modules/code-server/lib/vscode/out/server-main.js" ]; then
  echo "setup: code-server already installed in $E2E_DIR"; exit 0
fi
mkdir -p "$E2E_DIR/tmp"; cd "$E2E_DIR"
export TMPDIR="$PWD/tmp"
RGC="$TMPDIR/vscode-ripgrep-cache-1.15.11"; mkdir -p "$RGC/x"   # version pinned by code-server 4.100.3's shrinkwrap
cp "$(command -v rg)" "$RGC/x/rg"; tar -C "$RGC/x" -czf "$RGC/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" rg; rm -rf "$RGC/x"
[ -f package.json ] || echo '{"name":"skipgpt-vscode-e2e-harness","private":true}' > package.json
npm_config_yes=true npm_config_unsafe_perm=true nice -n 10 npm install --no-audit --no-fund --save-exact \
  code-server@4.100.3 playwright-core@1.65.1 > code-server-install.log 2>&1 || { tail -50 code-server-install.log; exit 1; }
echo "setup: code-server done after $(( $(date +%s) - T0 ))s"
HOME="$TMPDIR" node node_modules/code-server/lib/vscode/out/server-main.js --version 2>/dev/null | head -1 || true
