#!/usr/bin/env bash
# Development aid (not part of the test suite): kmoe vs an independent PyTorch model
# (REFERENCE, default ../shared/reference/torch_moe.py; needs Debian's python3-torch) from the
# same initial weights, float64, dropout 0, noise 0: losses and every gradient to 1e-6.
set -euo pipefail
cd "$(dirname "$0")/.."
REFERENCE="${REFERENCE:-../shared/reference/torch_moe.py}"
TOOL=build/default/tests/torch_parity
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$TOOL" init "$WORK/init.h5"
# Flags mirror parity_config() in tests/tools/torch_parity.cpp.
/usr/bin/python3 "$REFERENCE" --vocab 64 --d-model 32 --heads 4 --layers 2 --d-ff 48 --experts 4 \
  --top-k 2 --seq 16 --batch 3 --noise-std 0 --lb-weight 0.1 --z-weight 0.01 --dtype float64 \
  --steps 1 --optim none --init "$WORK/init.h5" --dump "$WORK/ref.h5" >/dev/null
"$TOOL" compare "$WORK/init.h5" "$WORK/ref.h5"
