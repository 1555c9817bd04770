#!/usr/bin/env bash
# The main job on the bundled samples, as a clerk and a field tester would run it:
#   1. an issuing keyring (DEMO ONLY: no passphrase),
#   2. door plates for every household in samples/households.csv (and each household's PIN
#      slip, made with the first batch): PNG plates as URL-form QR
#      (the form a stock phone camera opens without chipkit's page), PDF sheets and two PNG
#      plates with the default snowflake symbol (read by chipkit's scanner and /scan page),
#   3. a verifier bundle for scanning devices,
#   4. every plate image scanned and verified, and one chip sealed and verified by hand,
#   5. a resident's request opened with a scanned chip, handled, rated, and a report,
#   6. staff accounts for the pages (DEMO ONLY passwords), a household's PIN from its slip,
#      and the pages' addresses.
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
# the PNG plates carry the chip as a URL in a QR code (a phone camera opens the resident
# page of `chipkit serve` on this machine); the PDF sheets carry the same chips in the
# default snowflake symbol (reprinted: no new serial), as do two PNG plates
URL_PREFIX="${CHIPKIT_DEMO_URL_PREFIX:-HTTP://127.0.0.1:8000/C/}"
# the service's database holds the register; the first batch also issues every household's
# PIN (only its hash is stored) and writes the PIN slips beside the plates (pin-slips.csv,
# mode 0600; PDF by default); the reprints below keep those PINs (no --db)
rm -f "$OUT/cases.sqlite"
"$CK" cases import samples/households.csv --db "$OUT/cases.sqlite"
"$CK" plates samples/households.csv --keys "$OUT/keys" --out "$OUT/plates-png" --format png --carrier qr --url-prefix "$URL_PREFIX" --db "$OUT/cases.sqlite" --slips csv
"$CK" plates samples/households.csv --keys "$OUT/keys" --out "$OUT/plates-pdf" --format pdf --sheet a4
head -n 3 samples/households.csv > "$OUT/two-households.csv"
"$CK" plates "$OUT/two-households.csv" --keys "$OUT/keys" --out "$OUT/plates-snowflake" --format png

step "3. verifier bundle for phones"
"$CK" keys export-verifier "$OUT/keys" "$OUT/verifier-bundle.json" | tee "$OUT/export.txt"
# devices pin the issuing office's fingerprint (printed on export)
export CHIPKIT_OFFICE=$(sed -n 's/.*office //p' "$OUT/export.txt")

step "4. scan every plate image with the bundle"
"$CK" scan "$OUT/plates-png" --keys "$OUT/verifier-bundle.json" > "$OUT/scan.txt" || true
cat "$OUT/scan.txt" | head -5
echo "... $(grep -c ' ok ' "$OUT/scan.txt" || true) plates read ok of $(ls "$OUT"/plates-png/*.png | wc -l)"
"$CK" scan "$OUT/plates-snowflake" --keys "$OUT/verifier-bundle.json" > "$OUT/scan-snowflake.txt" || true
echo "... $(grep -c ' ok ' "$OUT/scan-snowflake.txt" || true) snowflake plates read ok of $(ls "$OUT"/plates-snowflake/*.png | wc -l)"
# one hand-sealed chip, recorded in the keyring's ledger like any plate: sealed on the
# first run only (a second `seal` for the household is refused without --reissue)
if [ ! -s "$OUT/sealed-chip.txt" ]; then
  "$CK" seal --keys "$OUT/keys" --household 330703101001-9999 --village 330703101001 > "$OUT/sealed-chip.txt"
fi
token=$(cat "$OUT/sealed-chip.txt")
"$CK" verify --keys "$OUT/verifier-bundle.json" "$token"

step "5. a resident's request: scan the plate, report a hazard; the worker handles it; rating; report"
export CHIPKIT_DB="$OUT/cases.sqlite" CHIPKIT_KEYS="$OUT/verifier-bundle.json"
plate="$OUT/plates-png/$(ls "$OUT/plates-png" | grep -m1 '\.png$')"
# the resident's phone reads the chip text from the plate: `chipkit scan --json` gives it
chip=$("$CK" scan "$plate" --keys "$CHIPKIT_KEYS" --json 2>/dev/null | "${VENV:-.venv}/bin/python" -c "import json,sys; print(json.loads(sys.stdin.readline())['chip'])")
case_json=$("$CK" cases submit --type hazard --title "楼道电线松动" --severity high --location "一楼楼道" --token "$chip" --json)
id=$(echo "$case_json" | "${VENV:-.venv}/bin/python" -c "import json,sys; print(json.load(sys.stdin)['id'])")
worker=$(echo "$case_json" | "${VENV:-.venv}/bin/python" -c "import json,sys; print(json.load(sys.stdin)['worker_id'])")
"$CK" cases accept "$id" --worker "$worker"
"$CK" cases start "$id" --worker "$worker"
"$CK" cases resolve "$id" --worker "$worker" --note "已更换老化电线"
"$CK" cases rate "$id" --rating 5 --solved --token "$chip"
"$CK" visits checkin "$plate" --worker "$worker" --gps 29.0851,119.7472,10
"$CK" cases report --level village
"$CK" cases audit

step "6. the pages: staff accounts (DEMO ONLY passwords) and a household PIN from its slip"
# DEMO ONLY: one known password for every demo account; never do this for real accounts
export CHIPKIT_USER_PASSWORD="demo-only-password"
village=$(echo "$case_json" | "${VENV:-.venv}/bin/python" -c "import json,sys; print(json.load(sys.stdin)['village_id'])")
"$CK" users add demo-worker --worker "$worker" --name "demo grid worker"
"$CK" users add demo-clerk --role clerk --unit "$village" --name "demo clerk"
"$CK" users add demo-admin --role admin --name "demo admin"
hid=$(echo "$case_json" | "${VENV:-.venv}/bin/python" -c "import json,sys; print(json.load(sys.stdin)['household_id'])")
# its PIN slip came with its plate (step 2): $OUT/plates-png/pin-slips.csv
pin=$("${VENV:-.venv}/bin/python" -c "import csv,sys; print(next(r['pin'] for r in csv.DictReader(open(sys.argv[1], encoding='utf-8-sig')) if r['household_id'] == sys.argv[2]))" "$OUT/plates-png/pin-slips.csv" "$hid")
case "$chip" in
  HTTP*) scheme="${URL_PREFIX%%://*}"; resident="${scheme,,}://${URL_PREFIX#*://}${chip##*/}" ;;
  *) resident="http://127.0.0.1:8000/scan   (this plate is in CK1: form: scan $plate with the page)" ;;
esac
cat > "$OUT/pages.txt" <<PAGES
After \`${VENV:-.venv}/bin/chipkit serve\`, open in a browser (DEMO ONLY accounts and PIN):
  resident page of household $hid (its door plate $plate opens this URL):
    $resident
  its household PIN (from its slip in $OUT/plates-png/pin-slips.csv; needed to see and rate requests): $pin
  any plate, with the page's own scanner:  http://127.0.0.1:8000/scan
  staff login:  http://127.0.0.1:8000/login   password for all: $CHIPKIT_USER_PASSWORD
    demo-worker (grid worker of that household -> /w)
    demo-clerk  (clerk of village $village -> /clerk)
    demo-admin  (admin -> /dash)
PAGES
cat "$OUT/pages.txt"

echo
echo "done: plates in $OUT/plates-png (URL-form QR), $OUT/plates-pdf and $OUT/plates-snowflake (snowflake), manifest in $OUT/plates-png/manifest.json"
echo "next: ${VENV:-.venv}/bin/chipkit serve   # the demo district's service on http://127.0.0.1:8000 (docs/serve.md)"
echo "      then open the addresses above (also in $OUT/pages.txt; docs/pages.md)"
