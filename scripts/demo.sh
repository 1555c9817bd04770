#!/usr/bin/env bash
# The main job on the bundled samples: a demo keyring, plates for every household in
# samples/households.csv, a verifier bundle, then every plate scanned and verified.
# Outputs go to demo-out/. DEMO ONLY: the keyring is created without a passphrase.
set -euo pipefail
cd "$(dirname "$0")/.."
CK="${VENV:-.venv}/bin/chipkit"
OUT=demo-out
mkdir -p "$OUT"
if [ ! -f "$OUT/keys/keyring.json" ]; then
  "$CK" keys init "$OUT/keys" --no-passphrase --name "金东区 demo office (DEMO ONLY)"
fi
echo "== seal and verify one chip"
token=$("$CK" seal --keys "$OUT/keys" --household 330703101001-0001 --village 330703101001)
echo "$token"
"$CK" verify --keys "$OUT/keys" "$token"
"$CK" keys export-verifier "$OUT/keys" "$OUT/verifier-bundle.json"
"$CK" verify --keys "$OUT/verifier-bundle.json" --json "$token"
