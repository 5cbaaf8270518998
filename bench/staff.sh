#!/usr/bin/env bash
# Benchmark: the staff dashboard and API with 1,000,000 subscribers and 100 sent issues
# (10,000 deliveries each, with bounces and blocked messages), under wrk: p50 and p99 latency
# of each page and API call, against /healthz (the server's floor) measured in the same run.
# Goal: p99 under 100 ms for each.
# Usage: bash bench/staff.sh [SECONDS per endpoint, default 5]      Needs wrk and sqlite3.
set -euo pipefail
secs=${1:-5}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "bench/staff.sh needs wrk (apt-get install -y wrk)" >&2; exit 2; }
cargo build --release --quiet
bin=$PWD/target/release/tidings
out=$PWD/bench/out/staff
rm -rf "$out" && mkdir -p "$out/issues"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export TIDINGS_DATABASE__URL="sqlite://$out/tidings.db" TIDINGS_SECURITY__SECRET_KEY=bench-key-0123456789abcdef0123456789 TIDINGS_HTTP__BIND=127.0.0.1:$port \
  TIDINGS_SITE__BASE_URL=http://127.0.0.1:$port TIDINGS_SMTP__OUTBOX_DIR=$out/outbox TIDINGS_CONTENT__ISSUES_DIR=$out/issues
"$bin" init >/dev/null
"$bin" list create news --name "Tech News" >/dev/null

echo "preparing: 1,000,000 subscribers, 100 issues with 10,000 deliveries each…"
python3 - "$out" <<'PY'
import sys, pathlib
out = pathlib.Path(sys.argv[1])
with open(out / "subscribers.csv", "w") as f:
    f.write("email,name\n")
    for i in range(1_000_000):
        f.write(f"reader{i}@example{i % 97}.com,Reader {i}\n")
for i in range(100):
    (out / "issues" / f"i{i:03}.md").write_text(
        f'+++\nlist = "news"\nslug = "issue-{i:03}"\ntitle = "Issue {i}"\ndate = 2026-{1 + i // 10:02}-{1 + i % 28:02}\n+++\n\n## Focus\n\n◇ News {i}.\n', encoding="utf-8")
PY
"$bin" subscriber import "$out/subscribers.csv" --list news --confirmed >/dev/null
for f in "$out"/issues/*.md; do "$bin" issue add "$f" >/dev/null; done
# The sends themselves, as the engine would leave them: written straight into the database.
sqlite3 "$out/tidings.db" >/dev/null <<'SQL'
WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 10000)
INSERT INTO deliveries (issue_id, subscriber_id, state, attempts, sent_at, updated_at)
  SELECT i.id, (i.id * 7919 + k) % 1000000 + 1, CASE WHEN k % 200 = 0 THEN 'bounced' ELSE 'sent' END, 1,
         strftime('%Y-%m-%dT%H:%M:%fZ', i.published_on, '+' || (k / 100) || ' minutes'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
  FROM issues i, n;
UPDATE issues SET status = 'sent';
INSERT INTO bounces (subscriber_id, issue_id, kind, reason, source, receiving_domain, received_at)
  SELECT subscriber_id, issue_id, CASE WHEN id % 3 = 0 THEN 'soft' ELSE 'hard' END, CASE WHEN id % 3 = 0 THEN 'blocked' ELSE 'user_unknown' END,
         'smtp', 'example' || (subscriber_id % 97) || '.com', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (id % 20) || ' days')
  FROM deliveries WHERE state = 'bounced';
ANALYZE;
SQL
printf 'a long enough bench password\n' | "$bin" staff add owner@example.com --role owner >/dev/null
token=$("$bin" token create --name bench --role owner 2>/dev/null)

"$bin" serve >"$out/serve.log" 2>&1 &
serve=$!
trap 'kill $serve 2>/dev/null; wait $serve 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
jar="$out/cookies"
csrf=$(curl -s -c "$jar" "http://127.0.0.1:$port/admin/login" | grep -o 'name="csrf" value="[^"]*"' | cut -d'"' -f4)
curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" -d email=owner@example.com --data-urlencode "password=a long enough bench password" "http://127.0.0.1:$port/admin/login"
session=$(awk '$6 == "tidings_admin" { print $7 }' "$jar")
[ -n "$session" ] || { echo "could not log in" >&2; exit 1; }

source bench/wrk.sh
sqlite3 "$out/tidings.db" 'PRAGMA journal_mode' >/dev/null
echo "1,000,000 subscribers, 100 sent issues; wrk 2 threads, 4 connections, ${secs}s each:"
measure "reference: GET /healthz" /healthz
admin="Cookie: tidings_admin=$session"
api="Authorization: Bearer $token"
measure "page: dashboard" /admin "$admin"
measure "page: subscriber search" "/admin/subscribers?q=reader12345" "$admin"
measure "page: subscribers of a list" "/admin/subscribers?list=news&status=confirmed" "$admin"
measure "page: send progress" /admin/issues/issue-050/progress "$admin"
measure "page: bounce log" /admin/bounces "$admin"
measure "api: GET /api/v1/lists" /api/v1/lists "$api"
measure "api: subscriber search" "/api/v1/subscribers?q=reader12345" "$api"
measure "api: subscribers of a list" "/api/v1/subscribers?list=news&status=confirmed&limit=100" "$api"
measure "api: one subscriber" /api/v1/subscribers/reader777@example1.com "$api"
measure "api: issues" /api/v1/issues "$api"
measure "api: send status" /api/v1/issues/issue-050/status "$api"
measure "api: bounce log" /api/v1/bounces "$api"
measure "api: event log" /api/v1/events "$api"
