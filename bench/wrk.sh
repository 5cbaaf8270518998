# Shared by the benchmarks that time pages: `measure NAME PATH [HEADER]` runs wrk against
# http://127.0.0.1:$port (2 threads, 4 connections, $secs seconds) after checking the page
# answers 200, and prints its p50, p99 and requests a second.
measure() {
  local name=$1 path=$2 header=${3:-X-Bench: 1}
  local code; code=$(curl -s -o /dev/null -w '%{http_code}' -H "$header" "http://127.0.0.1:$port$path")
  [ "$code" = 200 ] || { echo "$name: $path answered $code" >&2; exit 1; }
  wrk -t2 -c4 -d"${secs}s" --latency -H "$header" "http://127.0.0.1:$port$path" | python3 -c '
import re, sys
name = sys.argv[1]
text = sys.stdin.read()
def ms(p):
    m = re.search(r"^\s+" + p + r"%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50, p99 = ms("50"), ms("99")
print(f"{name:<34} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   {rps:8.0f} req/s")
' "$name"
}
