#!/usr/bin/env bash
# Benchmark: deliver one issue to N subscribers (default 50,000) through Postfix's smtp-sink, against
# Postfix's own smtp-source pushing as many messages of the same size into the same sink over
# the same number of connections, measured in the same run.
# Usage: bash bench/send.sh [SUBSCRIBERS] [CONNECTIONS] [DKIM]    DKIM: off (default) or ed25519
#        TIDINGS_BIN=path/to/tidings bash bench/send.sh …   measures that binary instead of building one
# Goal: tidings/smtp-source >= 0.6 with CONNECTIONS = smtp.pool_size (8).
set -euo pipefail
n=${1:-50000}
conns=${2:-8}
dkim=${3:-off}
cd "$(dirname "$0")/.."
for tool in smtp-sink smtp-source; do
  [ -x /usr/sbin/$tool ] || { echo "bench/send.sh needs /usr/sbin/$tool (apt-get install -y postfix)" >&2; exit 2; }
done
# TIDINGS_BIN: another build to measure (e.g. one made with another release profile).
if [ -z "${TIDINGS_BIN:-}" ]; then cargo build --release --quiet; fi
bin=${TIDINGS_BIN:-$PWD/target/release/tidings}
out=$PWD/bench/out/send
rm -rf "$out" && mkdir -p "$out"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
/usr/sbin/smtp-sink "${user[@]}" -c "127.0.0.1:$port" 1024 >"$out/sink.log" 2>&1 &
sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
sleep 0.5

export TIDINGS_DATABASE__URL="sqlite://$out/tidings.db" TIDINGS_SMTP__TRANSPORT=smtp TIDINGS_SMTP__PORT=$port \
  TIDINGS_SMTP__POOL_SIZE=$conns TIDINGS_DELIVERY__CONCURRENCY=$conns TIDINGS_SECURITY__SECRET_KEY=bench-key-0123456789abcdef0123456789 \
  TIDINGS_CONTENT__ISSUES_DIR=$PWD/content/issues
if [ "$dkim" = ed25519 ]; then
  export TIDINGS_DKIM__DOMAIN=example.org TIDINGS_DKIM__SELECTOR=bench TIDINGS_DKIM__PRIVATE_KEY_PATH=$PWD/tests/fixtures/dkim/ed25519.pem
fi
"$bin" init >/dev/null
"$bin" list create cstn --name "中国科技通讯" --language zh-CN >/dev/null
python3 - "$n" "$out/subscribers.csv" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w", encoding="utf-8") as f:
    f.write("email,name\n")
    for i in range(n):
        f.write(f"reader{i}@example.com,读者 {i}\n")
PY
"$bin" subscriber import "$out/subscribers.csv" --list cstn --confirmed >/dev/null
"$bin" issue add content/issues/2021-01.md >/dev/null
size=$("$bin" issue render 2021-01 --format eml --to reader1@example.com | wc -c)
echo "subscribers: $n  connections: $conns  DKIM: $dkim  message: $size bytes"

ref=$(python3 bench/measure.py -- /usr/sbin/smtp-source -d -s "$conns" -m "$n" -l "$size" -f bench@example.org -t reader@example.com "127.0.0.1:$port")
echo "smtp-source:      $ref"

"$bin" issue send 2021-01 >/dev/null
ours=$(python3 bench/measure.py -- "$bin" deliver --until-idle)
echo "tidings deliver:  $ours"
sent=$("$bin" issue status 2021-01 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["deliveries"]["sent"])')
[ "$sent" = "$n" ] || { echo "expected $n sent, found $sent" >&2; exit 1; }

python3 - "$n" "$ref" "$ours" <<'PY'
import json, sys
n = int(sys.argv[1])
ref, ours = json.loads(sys.argv[2]), json.loads(sys.argv[3])
r, o = n / ref["seconds"], n / ours["seconds"]
print(f"smtp-source {r:,.0f} msg/s · tidings {o:,.0f} msg/s · ratio tidings/smtp-source = {o / r:.2f} · tidings peak RSS {ours['max_rss_mb']} MB")
PY
