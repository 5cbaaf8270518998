#!/usr/bin/env bash
# Benchmark: import N subscribers (default 1,000,000) from CSV, against sqlite3's own `.import`
# of the same file into a one-table database, measured in the same run.
# Usage: bash bench/import.sh [ROWS]      Goal: ratio <= 3.0, peak memory < 200 MB.
set -euo pipefail
rows=${1:-1000000}
cd "$(dirname "$0")/.."
command -v sqlite3 >/dev/null || { echo "bench/import.sh needs sqlite3 (apt-get install -y sqlite3)" >&2; exit 2; }
cargo build --release --quiet
bin=$PWD/target/release/tidings
out=$PWD/bench/out/import
rm -rf "$out" && mkdir -p "$out"
csv=$out/subscribers.csv

# Realistic rows: mixed-case domains, names with commas and CJK, an attribute column.
python3 - "$rows" "$csv" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
domains = ["example.com", "Example.org", "mail.example.net", "例子.广告", "corp.example.co.uk"]
names = ["Alice Liddell", "\"Smith, John\"", "王小明", "Zoë Östberg", ""]
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write("email,name,city,plan\r\n")
    for i in range(n):
        f.write(f"user{i}@{domains[i % 5]},{names[i % 5]},City {i % 97},{'pro' if i % 3 else 'free'}\r\n")
PY
echo "rows: $rows  file: $(du -h "$csv" | cut -f1)"

ref=$(python3 bench/measure.py -- sqlite3 "$out/reference.db" ".import --csv $csv subscribers")
echo "sqlite3 .import:  $ref"

export TIDINGS_DATABASE__URL="sqlite://$out/tidings.db"
"$bin" init >/dev/null
"$bin" list create bench --name Bench >/dev/null
ours=$(python3 bench/measure.py -- "$bin" subscriber import "$csv" --list bench --confirmed)
echo "tidings import:   $ours"
count=$("$bin" list ls --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["confirmed"])')
[ "$count" = "$rows" ] || { echo "expected $rows confirmed subscribers, found $count" >&2; exit 1; }

again=$(python3 bench/measure.py -- "$bin" subscriber import "$csv" --list bench --confirmed)
echo "tidings re-import (all updates): $again"

python3 - "$ref" "$ours" "$again" <<'PY'
import json, sys
ref, ours, again = (json.loads(a) for a in sys.argv[1:])
ratio = ours["seconds"] / ref["seconds"]
print(f"ratio tidings/sqlite3: {ratio:.2f} (goal <= 3.00)   peak memory: {ours['max_rss_mb']} MB (goal < 200)")
print(f"re-import ratio: {again['seconds'] / ref['seconds']:.2f}   peak memory: {again['max_rss_mb']} MB")
PY
