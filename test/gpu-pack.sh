#!/usr/bin/env bash
# Packs what test/gpu-check.sh needs on a GPU machine that has no npm, no network and no Node.js, into
# .device/seekr-gpu.tar.xz (send .device/ along; ../shared/gpu/pack-node.sh puts node there). Only ignored build
# outputs are packed — tracked files travel with the working tree: the CUDA addon, every package's dist/, the tensor
# benchmark build, and the production dependencies from node_modules (the @seekr/* links included).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f native/build/Release/seekr.node ] || { echo "gpu-pack: build first (npm install / npm run build)" >&2; exit 1; }
node -e 'const b = require("./native/index.js").native.backendInfo(); if (!b.cudaCompiled) { console.error("gpu-pack: the addon was built without CUDA (" + b.cudaReason + ")"); process.exit(1); }'
mkdir -p .device
paths=(native/build/Release/seekr.node packages/tensor/dist-bench)
for p in packages/*/; do [ -d "$p/dist" ] && paths+=("${p}dist"); done
# Production dependencies (npm's own list), without the addon's build-time tools.
while IFS= read -r dep; do
  case "$dep" in
    node_modules/@seekr/*) paths+=("$dep") ;;  # links into packages/
    node_modules/cmake-js|node_modules/node-addon-api|node_modules/node-api-headers|node_modules/tar|node_modules/@isaacs/*) ;;
    node_modules/*) paths+=("$dep") ;;
  esac
done < <(npm ls --omit=dev --all --parseable 2>/dev/null | sed "s|^$PWD/||" | grep '^node_modules/' | sort -u)
# vitest and what it loads at run time, for the vitest files with GPU cases (model and trainer device.test.ts).
while IFS= read -r dep; do paths+=("$dep"); done < <(node test/gpu/dep-closure.cjs vitest)
tar -cJf .device/seekr-gpu.tar.xz "${paths[@]}"
du -sh .device/seekr-gpu.tar.xz
echo "send .device/ (carry [\".device\"]); on the GPU machine: source .device/on-device.sh; bash test/gpu-check.sh \"\$OUT\""
