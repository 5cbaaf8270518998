#!/usr/bin/env bash
# Benchmark: `tidings bounce ingest` of N messages (default 10,000), the styles of
# tests/corpus/bounces copied round-robin, against `cat` of the same files (the I/O and process
# floor), measured in the same run. The corpus's recipients are subscribers, so bounces are
# matched, recorded and the policy applied, as in production.
# Usage: bash bench/bounces.sh [MESSAGES]
#        bash bench/bounces.sh --score [DIR]   detection, hard recall, wrongful hard, complaints,
#          auto-replies and recipients on the corpus (or DIR, laid out as tests/corpus/bounces:
#          *.eml and expected.json), against the goals of issue 15; exit 1 when one is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--score" ]; then
  [ -z "${2:-}" ] || export TIDINGS_BOUNCE_CORPUS=$(realpath "$2")
  exec cargo test --quiet --test bounce_corpus -- --exact corpus_scores_meet_the_goals --nocapture
fi
n=${1:-10000}
cargo build --release --quiet
bin=$PWD/target/release/tidings
corpus=$PWD/tests/corpus/bounces
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tidings-bounces.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/mail"

# N files, the corpus round-robin; and the corpus's recipients as a CSV of subscribers. (The
# returned originals' Message-IDs carry no signature of this database's key, so the messages map
# by their recipients.)
python3 - "$n" "$corpus" "$tmp" <<'PY'
import json, pathlib, sys
n, corpus, tmp = int(sys.argv[1]), pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
files = sorted(corpus.glob("*.eml"))
raws = [f.read_bytes() for f in files]
for i in range(n):
    (tmp / "mail" / f"{i:06d}-{files[i % len(files)].name}").write_bytes(raws[i % len(files)])
expected = json.loads((corpus / "expected.json").read_text(encoding="utf-8"))
addresses = sorted({r["address"] for e in expected.values() for r in e["recipients"]})
(tmp / "subscribers.csv").write_text("email\n" + "".join(a + "\n" for a in addresses), encoding="utf-8")
PY
echo "messages: $n ($(ls "$corpus"/*.eml | wc -l) styles)  size: $(du -sh "$tmp/mail" | cut -f1)"

export TIDINGS_DATABASE__URL="sqlite://$tmp/tidings.db" TIDINGS_SECURITY__SECRET_KEY=bench-key-0123456789abcdef0123456789
"$bin" init >/dev/null
"$bin" list create bench --name Bench >/dev/null
"$bin" subscriber import "$tmp/subscribers.csv" --list bench --confirmed >/dev/null

# Both read every file through xargs (argv stays short): `cat` is the floor.
each='cd "$1" && shift && printf "%s\0" *.eml | xargs -0 "$@"'
ref=$(python3 bench/measure.py -- bash -c "$each" _ "$tmp/mail" cat)
echo "cat:                  $ref"
ours=$(python3 bench/measure.py -- bash -c "$each" _ "$tmp/mail" "$bin" bounce ingest)
echo "tidings bounce ingest: $ours"
bounced=$("$bin" subscriber show jane.doe@example.com --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["bounces"]))')
[ "$bounced" -gt 0 ] || { echo "expected bounces recorded for jane.doe@example.com, found none" >&2; exit 1; }

python3 - "$n" "$ref" "$ours" <<'PY'
import json, sys
n = int(sys.argv[1])
ref, ours = json.loads(sys.argv[2]), json.loads(sys.argv[3])
r, o = n / ref["seconds"], n / ours["seconds"]
print(f"cat {r:,.0f} msg/s · tidings {o:,.0f} msg/s · ratio tidings/cat = {o / r:.3f} · tidings peak RSS {ours['max_rss_mb']} MB")
PY
