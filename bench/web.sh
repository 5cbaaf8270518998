#!/usr/bin/env bash
# Benchmark: the public web under wrk, on this machine, in one run:
#   1. one-click unsubscribes (RFC 8058 POSTs) to distinct signed links;  goal >= 5,000/s
#   2. GET /feed.xml of a 1,000-issue archive (cached), against nginx serving the same bytes
#      as a static file;                                                   goal: within 2x of nginx
#   3. the same for GET /feed.json (JSON Feed 1.1);                        goal: within 2x of nginx
# Usage: bash bench/web.sh [SECONDS]     Needs wrk and nginx (apt-get install -y wrk nginx).
set -euo pipefail
secs=${1:-10}
cd "$(dirname "$0")/.."
for tool in wrk nginx; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "bench/web.sh needs $tool (apt-get install -y wrk nginx)" >&2; exit 2; }
done
cargo build --release --quiet
bin=$PWD/target/release/tidings
out=$PWD/bench/out/web
rm -rf "$out" && mkdir -p "$out/issues" "$out/static"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port); nginx_port=$(free_port)
export TIDINGS_DATABASE__URL="sqlite://$out/tidings.db" TIDINGS_SECURITY__SECRET_KEY=bench-key-0123456789abcdef0123456789 TIDINGS_HTTP__BIND=127.0.0.1:$port \
  TIDINGS_SITE__BASE_URL=http://127.0.0.1:$port TIDINGS_SMTP__OUTBOX_DIR=$out/outbox TIDINGS_CONTENT__ISSUES_DIR=$out/issues \
  TIDINGS_FEEDS__POLLS_PER_IP_PER_MINUTE=1000000000
"$bin" init >/dev/null
"$bin" list create bench --name "Bench" >/dev/null

echo "preparing: 1,000 issues, 20,000 subscribers and their unsubscribe links…"
python3 - "$out" <<'PY'
import sys, pathlib
out = pathlib.Path(sys.argv[1])
body = open("content/issues/2021-01.md", encoding="utf-8").read().split("+++", 2)[2]
for i in range(1000):
    y, d = 2000 + i // 365, i % 365
    (out / "issues" / f"i{i:04}.md").write_text(
        f'+++\nlist = "bench"\ntitle = "Issue {i}"\ndate = {y}-{1 + d // 31 % 12:02}-{1 + d % 28:02}\n+++\n{body}', encoding="utf-8")
with open(out / "subscribers.csv", "w") as f:
    f.write("email\n")
    for i in range(20000):
        f.write(f"r{i}@example.com\n")
PY
cp -r content/issues/images "$out/issues/"
for f in "$out"/issues/*.md; do "$bin" issue add "$f" >/dev/null; done
"$bin" subscriber import "$out/subscribers.csv" --list bench --confirmed >/dev/null
# A short issue for the links: its 20,000 messages go to the outbox, whose List-Unsubscribe URLs
# are the links a mail provider would POST to.
printf '+++\nlist = "bench"\nslug = "links"\ntitle = "Links"\ndate = 2099-01-01\n+++\nHello.\n' > "$out/links.md"
"$bin" issue add "$out/links.md" >/dev/null
"$bin" issue send links >/dev/null
"$bin" deliver --until-idle >/dev/null
grep -h -o "^List-Unsubscribe: <[^>]*>" -r "$out/outbox" | sed 's/^List-Unsubscribe: <//; s/>$//' > "$out/links.txt"
echo "links: $(wc -l < "$out/links.txt")"

"$bin" serve 2>"$out/serve.log" &
serve=$!
cat > "$out/nginx.conf" <<NGINX
worker_processes 1;
pid $out/nginx.pid;
error_log $out/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  types { application/rss+xml xml; application/feed+json json; }
  server { listen 127.0.0.1:$nginx_port; root $out/static; etag on; }
}
NGINX
trap 'kill $serve 2>/dev/null || true; nginx -c "$out/nginx.conf" -s stop 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
curl -s "http://127.0.0.1:$port/feed.xml" -o "$out/static/feed.xml"
curl -s "http://127.0.0.1:$port/feed.json" -o "$out/static/feed.json"
echo "feeds: $(wc -c < "$out/static/feed.xml") bytes (RSS), $(wc -c < "$out/static/feed.json") bytes (JSON Feed)"
nginx -c "$out/nginx.conf"

cat > "$out/unsubscribe.lua" <<LUA
local links = {}
for line in io.lines("$out/links.txt") do links[#links + 1] = line:gsub("^http://[^/]+", "") end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", links[(n % #links) + 1], {["Content-Type"] = "application/x-www-form-urlencoded"}, "List-Unsubscribe=One-Click")
end
LUA
run() { wrk -t 2 -c 32 -d "${secs}s" --latency "$@" 2>&1; }
summary() { awk '/Requests\/sec/ {r=$2} / 99%/ {p=$2} /Non-2xx/ {e=$NF} END {printf "%s req/s, p99 %s%s", r, p, (e ? ", non-2xx " e : "")}'; }

unsub=$(run -s "$out/unsubscribe.lua" "http://127.0.0.1:$port" | summary)
echo "one-click unsubscribe:   $unsub"
ours=$(run "http://127.0.0.1:$port/feed.xml" | summary)
ref=$(run "http://127.0.0.1:$nginx_port/feed.xml" | summary)
echo "GET /feed.xml (tidings): $ours"
echo "GET /feed.xml (nginx):   $ref"
ours_json=$(run "http://127.0.0.1:$port/feed.json" | summary)
ref_json=$(run "http://127.0.0.1:$nginx_port/feed.json" | summary)
echo "GET /feed.json (tidings): $ours_json"
echo "GET /feed.json (nginx):   $ref_json"
python3 - "$ours" "$ref" "$ours_json" "$ref_json" <<'PY'
import sys
ours, ref, ours_json, ref_json = (float(a.split()[0]) for a in sys.argv[1:])
print(f"feed.xml: nginx/tidings = {ref / ours:.2f} (goal <= 2.0)")
print(f"feed.json: nginx/tidings = {ref_json / ours_json:.2f} (goal <= 2.0)")
PY
echo "unsubscribed: $("$bin" list ls --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["unsubscribed"])') of 20,000"
