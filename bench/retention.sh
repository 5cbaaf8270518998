#!/usr/bin/env bash
# Benchmark: retention at the scale it is for. N subscribers (default 1,000,000) and S sends to
# all of them (default 20: 20,000,000 delivery rows), written straight into a SQLite database as
# the engine would leave them. Measured: the database's size per 1,000,000 deliveries; p50/p99 of
# the dashboard, a send's progress page and the status API with every row there (wrk), against
# /healthz in the same run; the prune of all but the newest send (time, rows a second), the size
# after it and after giving the space back; the same pages after; and how much a prune running
# beside a send slows the send (messages a second into smtp-sink, with and without).
# Usage: bash bench/retention.sh [SUBSCRIBERS] [SENDS] [SECONDS per page]   Needs wrk, sqlite3, postfix.
# Goals: each page's p99 under 100 ms before and after; the send slowed by under 10%.
set -euo pipefail
n=${1:-1000000}
sends=${2:-20}
secs=${3:-5}
cd "$(dirname "$0")/.."
for tool in wrk sqlite3 /usr/sbin/smtp-sink; do command -v $tool >/dev/null || { echo "bench/retention.sh needs $tool" >&2; exit 2; }; done
cargo build --release --quiet
bin=$PWD/target/release/tidings
out=$PWD/bench/out/retention
rm -rf "$out" && mkdir -p "$out/issues"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
db=$out/tidings.db
export TIDINGS_DATABASE__URL="sqlite://$db" TIDINGS_SECURITY__SECRET_KEY=bench-key-0123456789abcdef0123456789 TIDINGS_HTTP__BIND=127.0.0.1:$port \
  TIDINGS_SITE__BASE_URL=http://127.0.0.1:$port TIDINGS_SMTP__OUTBOX_DIR=$out/outbox TIDINGS_CONTENT__ISSUES_DIR=$out/issues
"$bin" init >/dev/null
"$bin" list create news --name "Tech News" >/dev/null
for i in $(seq "$sends"); do
  printf '+++\nlist = "news"\nslug = "send-%03d"\ntitle = "Send %d"\ndate = 2025-%02d-%02d\n+++\n\nNews %d.\n' "$i" "$i" $(( (i - 1) / 28 % 12 + 1 )) $(( (i - 1) % 28 + 1 )) "$i" > "$out/issues/s$i.md"
  "$bin" issue add "$out/issues/s$i.md" >/dev/null
done
echo "preparing: $n subscribers, $sends sends to all of them ($(( n * sends )) deliveries)…"
sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $n)
INSERT INTO subscribers (email, email_key, created_at, updated_at) SELECT 'reader' || i || '@example.com', 'reader' || i || '@example.com', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z' FROM k;
INSERT INTO subscriptions (list_id, subscriber_id, status, consent_source, consent_at, confirmed_at, updated_at)
  SELECT 1, id, 'confirmed', 'import', created_at, created_at, created_at FROM subscribers;
INSERT INTO deliveries (issue_id, subscriber_id, state, attempts, sent_at, last_error, smtp_code, updated_at)
  SELECT i.id, s.id, CASE WHEN s.id % 200 = 0 THEN 'bounced' ELSE 'sent' END, 1,
         strftime('%Y-%m-%dT%H:%M:%fZ', i.published_on, '+' || (s.id / 4000) || ' minutes'),
         CASE WHEN s.id % 200 = 0 THEN '550 5.1.1 user unknown' END, CASE WHEN s.id % 200 = 0 THEN 550 ELSE 250 END,
         strftime('%Y-%m-%dT%H:%M:%fZ', i.published_on, '+' || (s.id / 4000) || ' minutes')
  FROM issues i, subscribers s ORDER BY i.id, s.id;
UPDATE issues SET status = 'sending', started_at = published_on || 'T08:00:00Z';
ANALYZE;
SQL
# The engine finishes the sends as it would have: each gets its summary, which its pages read.
"$bin" deliver --until-idle >/dev/null
sqlite3 "$db" "UPDATE issues SET finished_at = published_on || 'T20:00:00Z'"
printf 'a long enough bench password\n' | "$bin" staff add owner@example.com --role owner >/dev/null
token=$("$bin" token create --name bench --role owner 2>/dev/null)
size() { sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null; stat -c %s "$db"; }
rows=$(sqlite3 "$db" 'SELECT COUNT(*) FROM deliveries')
size_full=$(size)

serve() { "$bin" serve >"$out/serve.log" 2>&1 & echo $!; }
pages() {
  local pid; pid=$(serve)
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  local jar=$out/cookies csrf session
  csrf=$(curl -s -c "$jar" "http://127.0.0.1:$port/admin/login" | grep -o 'name="csrf" value="[^"]*"' | cut -d'"' -f4)
  curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" -d email=owner@example.com --data-urlencode "password=a long enough bench password" "http://127.0.0.1:$port/admin/login"
  session=$(awk '$6 == "tidings_admin" { print $7 }' "$jar")
  measure "reference: GET /healthz" /healthz
  measure "page: dashboard" /admin "Cookie: tidings_admin=$session"
  measure "page: send progress (oldest send)" /admin/issues/send-001/progress "Cookie: tidings_admin=$session"
  measure "api: send status (oldest send)" /api/v1/issues/send-001/status "Authorization: Bearer $token"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
source bench/wrk.sh

echo
python3 -c "print(f'before pruning: {$rows:,} deliveries, {$size_full / 1048576:,.0f} MiB ({$size_full / 1048576 / ($rows / 1e6):,.0f} MiB per 1,000,000 deliveries, with the subscribers and issues)')"
pages

cp "$db" "$out/full.db"

# Prune every send: each finished more than a day ago (deliveries_days = 1).
start=$(date +%s.%N)
report=$(TIDINGS_RETENTION__DELIVERIES_DAYS=1 "$bin" prune --json)
end=$(date +%s.%N)
pruned=$(echo "$report" | python3 -c 'import json,sys; print(json.load(sys.stdin)["deliveries"])')
size_after=$(size)
echo
python3 -c "print(f'prune: {$pruned:,} delivery rows in {$end - $start:.1f} s ({$pruned / ($end - $start):,.0f} rows/s); the file is {$size_after // 1048576:,} MiB after giving the space back (was {$size_full // 1048576:,} MiB)')"
pages

# A send with and without a prune beside it.
sinkport=$(free_port)
user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
/usr/sbin/smtp-sink "${user[@]}" -c "127.0.0.1:$sinkport" 1024 >/dev/null 2>&1 &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
side=$out/side.db
side_n=$(( n < 100000 ? n : 100000 ))
send_rate() { # DB — prints messages a second of a send to the first $side_n readers
  TIDINGS_DATABASE__URL=sqlite://$1 "$bin" issue send side >/dev/null
  local s e; s=$(date +%s.%N)
  TIDINGS_DATABASE__URL=sqlite://$1 TIDINGS_SMTP__TRANSPORT=smtp TIDINGS_SMTP__PORT=$sinkport "$bin" deliver --until-idle >/dev/null
  e=$(date +%s.%N)
  python3 -c "print(round($side_n / ($e - $s)))"
}
prepare_side() {
  # A copy's old write-ahead log would be replayed onto the new file: it goes first.
  rm -f "$1" "$1-wal" "$1-shm"
  cp "$out/full.db" "$1"
  printf '+++\nlist = "news"\nslug = "side"\ntitle = "Side"\ndate = 2026-01-01\n+++\n\nNow.\n' > "$out/side.md"
  sqlite3 "$1" "UPDATE subscriptions SET status = 'unsubscribed' WHERE subscriber_id > $side_n"
  TIDINGS_DATABASE__URL=sqlite://$1 "$bin" issue add "$out/side.md" >/dev/null
}
prepare_side "$side"
alone=$(send_rate "$side")
prepare_side "$side"
TIDINGS_DATABASE__URL=sqlite://$side TIDINGS_RETENTION__DELIVERIES_DAYS=1 "$bin" prune >/dev/null &
pruning=$!
beside=$(send_rate "$side")
kill "$pruning" 2>/dev/null || true; wait "$pruning" 2>/dev/null || true
python3 -c "print(f'a send to {$side_n:,}: {$alone:,} msg/s alone, {$beside:,} msg/s with a prune beside it ({(1 - $beside / $alone) * 100:.0f}% slower; goal under 10%)')"
