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

# A second reference: the same rows put into Tidings's own schema by SQLite alone, in one
# INSERT … SELECT each for the two tables — no parsing, validation or per-row checks. This is
# the floor for the schema, whatever the code above it does.
floor_sql=$out/floor.sql
{
  echo "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"
  cat migrations/sqlite/*.sql
  echo "ATTACH '$out/reference.db' AS src;"
  echo "INSERT INTO lists (slug, name, language, created_at) VALUES ('bench', 'Bench', 'en', '2026-01-01T00:00:00Z');"
  echo "INSERT INTO subscribers (email, email_key, name, attributes, created_at, updated_at) SELECT email, lower(email), name, json_object('city', city, 'plan', plan), '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z' FROM src.subscribers;"
  echo "INSERT INTO subscriptions (list_id, subscriber_id, status, consent_source, consent_at, confirmed_at, updated_at) SELECT 1, id, 'confirmed', 'import', created_at, created_at, created_at FROM subscribers;"
} > "$floor_sql"
floor=$(python3 bench/measure.py --stdin "$floor_sql" -- sqlite3 "$out/floor.db")
echo "sqlite3, same schema (floor): $floor"

export TIDINGS_DATABASE__URL="sqlite://$out/tidings.db"
"$bin" init >/dev/null
"$bin" list create bench --name Bench >/dev/null
ours=$(python3 bench/measure.py -- "$bin" subscriber import "$csv" --list bench --confirmed)
echo "tidings import:   $ours"
count=$("$bin" list ls --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["confirmed"])')
[ "$count" = "$rows" ] || { echo "expected $rows confirmed subscribers, found $count" >&2; exit 1; }

again=$(python3 bench/measure.py -- "$bin" subscriber import "$csv" --list bench --confirmed)
echo "tidings re-import (all updates): $again"

python3 - "$ref" "$ours" "$again" "$floor" <<'PY'
import json, sys
ref, ours, again, floor = (json.loads(a) for a in sys.argv[1:])
ratio = ours["seconds"] / ref["seconds"]
print(f"ratio tidings/sqlite3: {ratio:.2f} (goal <= 3.00)   peak memory: {ours['max_rss_mb']} MB (goal < 200)")
print(f"ratio floor/sqlite3: {floor['seconds'] / ref['seconds']:.2f}   ratio tidings/floor: {ours['seconds'] / floor['seconds']:.2f}")
print(f"re-import ratio: {again['seconds'] / ref['seconds']:.2f}   peak memory: {again['max_rss_mb']} MB")
PY
