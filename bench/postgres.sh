#!/usr/bin/env bash
# Benchmark: the PostgreSQL backend against SQLite and against the ceiling of the machine.
#   1. Deliver one issue to N subscribers (default 100,000) through Postfix's smtp-sink: one
#      instance on SQLite; one, two and three instances on PostgreSQL; smtp-source pushing as many
#      messages of the same size into the same sink is the ceiling, measured in the same run.
#      For each PostgreSQL run: PostgreSQL's own CPU-seconds and statements per 10,000 messages
#      (pg_stat_statements), and the dead tuples left in `deliveries`.
#   2. Import M rows (default 1,000,000) into PostgreSQL, against `psql \copy` of the same CSV
#      into a one-table database.
# Usage: bash bench/postgres.sh [SUBSCRIBERS] [IMPORT_ROWS]
# Goals: one instance on PostgreSQL >= 0.8x one on SQLite; PostgreSQL's time <= 100 us a message;
#        the import within 3x psql \copy.
set -euo pipefail
n=${1:-100000}
import_rows=${2:-1000000}
conns=8
cd "$(dirname "$0")/.."
for tool in /usr/sbin/smtp-sink /usr/sbin/smtp-source; do
  [ -x $tool ] || { echo "bench/postgres.sh needs $tool (apt-get install -y postfix)" >&2; exit 2; }
done
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$pgbin" ] || { echo "bench/postgres.sh needs PostgreSQL (apt-get install -y postgresql)" >&2; exit 2; }
cargo build --release --quiet
bin=$PWD/target/release/tidings
out=$PWD/bench/out/postgres
rm -rf "$out" && mkdir -p "$out"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A throwaway cluster, durable (fsync on) but with asynchronous commit, as SQLite's WAL with
# synchronous=NORMAL is; pg_stat_statements counts the statements.
pgdir=$(mktemp -d /tmp/tidings-bench-pg.XXXXXX)
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$pgdir"
pgport=$(free_port)
as_pg "$pgbin/initdb -D $pgdir/data -A trust -U postgres >/dev/null"
as_pg "$pgbin/pg_ctl -D $pgdir/data -l $pgdir/log -w -o \"-c synchronous_commit=off -c shared_buffers=512MB -c max_wal_size=4GB -c shared_preload_libraries=pg_stat_statements -c listen_addresses=127.0.0.1 -p $pgport -k $pgdir\" start >/dev/null"
sinkport=$(free_port)
user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
/usr/sbin/smtp-sink "${user[@]}" -c "127.0.0.1:$sinkport" 1024 >"$out/sink.log" 2>&1 &
sink=$!
trap 'kill $sink 2>/dev/null || true; as_pg "$pgbin/pg_ctl -D $pgdir/data -m immediate stop >/dev/null" || true; rm -rf "$pgdir"' EXIT
server=postgres://postgres@127.0.0.1:$pgport
psql -X -q -d "$server/postgres" -c "CREATE DATABASE tidings" -c "CREATE DATABASE reference"
psql -X -q -d "$server/tidings" -c "CREATE EXTENSION pg_stat_statements"
postmaster=$(head -1 "$pgdir/data/postmaster.pid")

export TIDINGS_SMTP__TRANSPORT=smtp TIDINGS_SMTP__PORT=$sinkport TIDINGS_SMTP__POOL_SIZE=$conns TIDINGS_DELIVERY__CONCURRENCY=$conns \
  TIDINGS_SECURITY__SECRET_KEY=bench-key-0123456789abcdef0123456789 TIDINGS_CONTENT__ISSUES_DIR=$PWD/content/issues TIDINGS_DATABASE__MAX_CONNECTIONS=8

python3 - "$n" "$out/subscribers.csv" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w", encoding="utf-8") as f:
    f.write("email,name\n")
    for i in range(n):
        f.write(f"reader{i}@example.com,读者 {i}\n")
PY

# CPU-seconds the cluster has used: the postmaster, its reaped children (backends that ended),
# and the children still running.
pg_cpu() {
  python3 - "$postmaster" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
def fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()
pm = sys.argv[1]
f = fields(pm)
total = sum(int(x) for x in f[11:15])  # utime stime cutime cstime
for pid in os.listdir("/proc"):
    if pid.isdigit() and pid != pm:
        try:
            g = fields(pid)
        except OSError:
            continue
        if g[1] == pm:
            total += int(g[11]) + int(g[12])
print(total / tick)
PY
}

# An installation on $1 with the list, its readers and one issue per run (slugs run1…run4).
setup() {
  TIDINGS_DATABASE__URL=$1 "$bin" init >/dev/null
  TIDINGS_DATABASE__URL=$1 "$bin" list create cstn --name "中国科技通讯" --language zh-CN >/dev/null
  TIDINGS_DATABASE__URL=$1 "$bin" subscriber import "$out/subscribers.csv" --list cstn --confirmed >/dev/null
  cp -r content/issues/images "$out/" 2>/dev/null || true
  for run in 1 2 3 4; do
    sed "s/^slug = .*/slug = \"run$run\"/; /^send_at/d" content/issues/2021-01.md > "$out/run$run.md"
    TIDINGS_DATABASE__URL=$1 "$bin" issue add "$out/run$run.md" >/dev/null
  done
}

# Sends issue run$2 on $1 with $3 instances at once; prints the wall time in seconds.
send() {
  TIDINGS_DATABASE__URL=$1 "$bin" issue send "run$2" >/dev/null
  local start end pids=()
  start=$(date +%s.%N)
  for _ in $(seq "$3"); do TIDINGS_DATABASE__URL=$1 "$bin" deliver --until-idle >/dev/null 2>>"$out/deliver.log" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
  end=$(date +%s.%N)
  local sent
  sent=$(TIDINGS_DATABASE__URL=$1 "$bin" issue status "run$2" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["deliveries"]["sent"])')
  [ "$sent" = "$n" ] || { echo "run$2: expected $n sent, found $sent" >&2; exit 1; }
  python3 -c "print(round($end - $start, 3))"
}

sqlite_url="sqlite://$out/tidings.db"
pg_url="$server/tidings"
setup "$sqlite_url"
setup "$pg_url"
size=$(TIDINGS_DATABASE__URL=$sqlite_url "$bin" issue render run1 --format eml --to reader1@example.com | wc -c)
echo "subscribers: $n  connections: $conns per instance  message: $size bytes  cores: $(nproc)"

ref=$(python3 bench/measure.py -- /usr/sbin/smtp-source -d -s "$conns" -m "$n" -l "$size" -f bench@example.org -t reader@example.com "127.0.0.1:$sinkport")
ref_s=$(python3 -c "import json; print(json.loads('$ref')['seconds'])")
sqlite_s=$(send "$sqlite_url" 1 1)

results=()
for instances in 1 2 3; do
  psql -X -q -d "$pg_url" -c "SELECT pg_stat_statements_reset()" >/dev/null
  cpu_before=$(pg_cpu)
  seconds=$(send "$pg_url" $((instances + 1)) "$instances")
  cpu_after=$(pg_cpu)
  calls=$(psql -X -A -t -d "$pg_url" -c "SELECT COALESCE(SUM(calls), 0) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'")
  dead=$(psql -X -A -t -d "$pg_url" -c "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'deliveries'")
  results+=("$instances $seconds $cpu_before $cpu_after $calls $dead")
done

python3 - "$n" "$ref_s" "$sqlite_s" "${results[@]}" <<'PY'
import sys
n, ref, sqlite = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
rate = lambda s: n / s
print(f"smtp-source (ceiling)     {rate(ref):8,.0f} msg/s")
print(f"1 instance on SQLite      {rate(sqlite):8,.0f} msg/s   {rate(sqlite) / rate(ref):.2f} of the ceiling")
print()
print("PostgreSQL   msg/s   vs SQLite  vs ceiling  PG CPU-s  PG us/msg  statements/10k msg  dead tuples")
one = None
for line in sys.argv[4:]:
    k, secs, c0, c1, calls, dead = line.split()
    secs, cpu = float(secs), float(c1) - float(c0)
    one = one or rate(secs)
    print(f"{k} instance{'s' if k != '1' else ' '}  {rate(secs):8,.0f}   {rate(secs) / rate(sqlite):8.2f}  {rate(secs) / rate(ref):10.2f}  {cpu:8.1f}  {cpu / n * 1e6:9.0f}  {int(calls) / n * 1e4:18,.0f}  {int(dead):11,}")
print()
print(f"goal: 1 instance on PostgreSQL >= 0.8x SQLite -> {one / rate(sqlite):.2f}")
PY

# 2. The import, against psql's \copy of the same file into a one-table database.
csv=$out/import.csv
python3 - "$import_rows" "$csv" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
domains = ["example.com", "Example.org", "mail.example.net", "例子.广告", "corp.example.co.uk"]
names = ["Alice Liddell", "\"Smith, John\"", "王小明", "Zoë Östberg", ""]
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write("email,name,city,plan\r\n")
    for i in range(n):
        f.write(f"user{i}@{domains[i % 5]},{names[i % 5]},City {i % 97},{'pro' if i % 3 else 'free'}\r\n")
PY
psql -X -q -d "$server/reference" -c "CREATE TABLE subscribers (email text, name text, city text, plan text)"
copy=$(python3 bench/measure.py -- psql -X -q -d "$server/reference" -c "\\copy subscribers FROM '$csv' WITH (FORMAT csv, HEADER true)")
# A second reference: the same rows put into Tidings's own schema by PostgreSQL alone (COPY into a
# staging table, then one INSERT … SELECT for each of the two tables) — no parsing, validation or
# per-row checks: the floor for the schema and its indexes, whatever the code above it does.
psql -X -q -d "$server/postgres" -c "CREATE DATABASE floor"
TIDINGS_DATABASE__URL=$server/floor "$bin" init >/dev/null
floor_sql=$out/floor.sql
cat > "$floor_sql" <<SQL
CREATE TEMPORARY TABLE stage (email text, name text, city text, plan text);
\\copy stage FROM '$csv' WITH (FORMAT csv, HEADER true)
INSERT INTO lists (slug, name, language, created_at) VALUES ('bench', 'Bench', 'en', now());
INSERT INTO subscribers (email, email_key, name, attributes, created_at, updated_at)
  SELECT email, lower(email), COALESCE(name, ''), jsonb_build_object('city', city, 'plan', plan), now(), now() FROM stage ON CONFLICT (email_key) DO NOTHING;
INSERT INTO subscriptions (list_id, subscriber_id, status, consent_source, consent_at, confirmed_at, updated_at)
  SELECT 1, id, 'confirmed', 'import', now(), now(), now() FROM subscribers;
SQL
floor=$(python3 bench/measure.py -- psql -X -q -v ON_ERROR_STOP=1 -d "$server/floor" -f "$floor_sql")
psql -X -q -d "$server/postgres" -c "CREATE DATABASE imported"
TIDINGS_DATABASE__URL=$server/imported "$bin" init >/dev/null
TIDINGS_DATABASE__URL=$server/imported "$bin" list create bench --name Bench >/dev/null
ours=$(TIDINGS_DATABASE__URL=$server/imported python3 bench/measure.py -- "$bin" subscriber import "$csv" --list bench --confirmed)
python3 - "$import_rows" "$copy" "$floor" "$ours" <<'PY'
import json, sys
rows, copy, floor, ours = int(sys.argv[1]), *(json.loads(a) for a in sys.argv[2:])
print(f"import of {rows:,} rows: psql \\copy into one table {copy['seconds']:.1f} s · the same rows into Tidings's schema by SQL alone {floor['seconds']:.1f} s · tidings {ours['seconds']:.1f} s")
print(f"  tidings / psql \\copy = {ours['seconds'] / copy['seconds']:.1f} (goal <= 3) · tidings / schema floor = {ours['seconds'] / floor['seconds']:.2f} · tidings peak RSS {ours['max_rss_mb']} MB")
PY
