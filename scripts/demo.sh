#!/usr/bin/env bash
# The main job on the bundled samples, as a clerk and a field tester would run it:
#   1. an issuing keyring (DEMO ONLY: no passphrase),
#   2. door plates for every household in samples/households.csv (PNG and a PDF sheet),
#   3. a verifier bundle for scanning devices,
#   4. every plate image scanned and verified, and one chip sealed and verified by hand,
#   5. a resident's request opened with a scanned chip, handled, rated, and a report.
# Outputs go to demo-out/ (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."
CK="${VENV:-.venv}/bin/chipkit"
OUT=demo-out
mkdir -p "$OUT"
step() { printf '\n== %s\n' "$*"; }

step "1. keyring (demo only, unprotected)"
if [ ! -f "$OUT/keys/keyring.json" ]; then
  "$CK" keys init "$OUT/keys" --no-passphrase --name "金东区 demo office (DEMO ONLY)"
else
  "$CK" keys list "$OUT/keys"
fi

step "2. plates for samples/households.csv"
"$CK" plates samples/households.csv --keys "$OUT/keys" --out "$OUT/plates-png" --format png
"$CK" plates samples/households.csv --keys "$OUT/keys" --out "$OUT/plates-pdf" --format pdf --sheet a4

step "3. verifier bundle for phones"
"$CK" keys export-verifier "$OUT/keys" "$OUT/verifier-bundle.json"

step "4. scan every plate image with the bundle"
"$CK" scan "$OUT/plates-png" --keys "$OUT/verifier-bundle.json" > "$OUT/scan.txt" || true
cat "$OUT/scan.txt" | head -5
echo "... $(grep -c ' ok ' "$OUT/scan.txt" || true) plates read ok of $(ls "$OUT"/plates-png/*.png | wc -l)"
token=$("$CK" seal --keys "$OUT/keys" --household 330703101001-9999 --village 330703101001 2>/dev/null)
"$CK" verify --keys "$OUT/verifier-bundle.json" "$token"

echo
echo "done: plates in $OUT/plates-png and $OUT/plates-pdf, manifest in $OUT/plates-png/manifest.json"
