#!/usr/bin/env bash
# Benchmark: the WebSub hub's fan-out, on this machine, in one run.
#   1. 1,000 callbacks (one local HTTP server, 1,000 distinct callback URLs) subscribe through
#      POST /websub and are verified;
#   2. an issue becomes public: time until the last callback has the new feed  (goal < 5 s);
#   3. a send to N subscribers into smtp-sink alone, then the same send while another issue
#      becomes public and the hub pushes it to the 1,000 callbacks: the send's rate must not drop
#      by more than 10%.
# Usage: bash bench/websub.sh [SUBSCRIBERS] [CALLBACKS]   (defaults 50,000 and 1,000)
set -euo pipefail
n=${1:-50000}
callbacks=${2:-1000}
cd "$(dirname "$0")/.."
[ -x /usr/sbin/smtp-sink ] || { echo "bench/websub.sh needs /usr/sbin/smtp-sink (apt-get install -y postfix)" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "bench/websub.sh needs sqlite3" >&2; exit 2; }
cargo build --release --quiet
bin=$PWD/target/release/tidings
out=$PWD/bench/out/websub
rm -rf "$out" && mkdir -p "$out"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
sink_port=$(free_port); port=$(free_port); cb_port=$(free_port)
user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
/usr/sbin/smtp-sink "${user[@]}" -c "127.0.0.1:$sink_port" 1024 >"$out/sink.log" 2>&1 &
sink=$!
export TIDINGS_DATABASE__URL="sqlite://$out/tidings.db" TIDINGS_SMTP__TRANSPORT=smtp TIDINGS_SMTP__PORT=$sink_port \
  TIDINGS_SECURITY__SECRET_KEY=bench-key-0123456789abcdef0123456789 TIDINGS_HTTP__BIND=127.0.0.1:$port \
  TIDINGS_SITE__BASE_URL=http://127.0.0.1:$port TIDINGS_CONTENT__ISSUES_DIR=$out \
  TIDINGS_FEEDS__HUB_ALLOW_PRIVATE_CALLBACKS=true TIDINGS_FEEDS__HUB_REQUESTS_PER_IP_PER_HOUR=1000000
"$bin" init >/dev/null
"$bin" list create bench --name "Bench" --language en >/dev/null
python3 - "$n" "$out/subscribers.csv" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("email\n")
    for i in range(n):
        f.write(f"r{i}@example.com\n")
PY
"$bin" subscriber import "$out/subscribers.csv" --list bench --confirmed >/dev/null
"$bin" serve 2>"$out/serve.log" &
serve=$!
trap 'kill $serve $sink 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
python3 bench/websub.py "$bin" "$out" "$port" "$cb_port" "$n" "$callbacks"
