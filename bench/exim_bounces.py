#!/usr/bin/env python3
"""Real Exim bounces, made offline: a local Exim (Debian's exim4-daemon-light) relays our
newsletter to a scripted receiver (bench/refusing_smtp.py) that refuses each recipient as a real
provider would, and to local addresses that do not exist; Exim writes its bounces to a Maildir.
Each bounce is put into the bounce corpus with the verdict an operator wants.

Usage: python3 bench/exim_bounces.py [--into tests/corpus/bounces]
  EXIM=/path/to/exim4  the binary (default: exim4 on PATH, else Debian's packages fetched with
                       `apt-get download` and unpacked under target/exim-pkg, not installed).
Exim as Debian builds it needs the system user Debian-exim (`useradd --system Debian-exim`).
Without --into, the bounces are written to a temporary folder and listed.
"""
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import refusing_smtp  # noqa: E402

VERP = "bounces+s{n:x}-i3-e{n:04d}x@bounce.news.example.org"
FIRST = 134
# (name, recipients, expected: [(address, kind, reason)] in the order Exim's DSN lists them)
SCENARIOS = [
    ("exim-real-user-unknown", ["unknown.ada@refusing.example"], [("unknown.ada@refusing.example", "hard", "user_unknown")]),
    ("exim-real-mailbox-full", ["full.ben@refusing.example"], [("full.ben@refusing.example", "soft", "mailbox_full")]),
    ("exim-real-gmail-unsolicited", ["gmail.cai@refusing.example"], [("gmail.cai@refusing.example", "soft", "blocked")]),
    ("exim-real-spam-at-data", ["spam.dora@refusing.example"], [("spam.dora@refusing.example", "soft", "blocked")]),
    ("exim-real-disabled-account", ["disabled.eli@refusing.example"], [("disabled.eli@refusing.example", "hard", "mailbox_disabled")]),
    ("exim-real-tss04-deferral-given-up", ["tss04.fay@refusing.example"], [("tss04.fay@refusing.example", "soft", "blocked")]),
    ("exim-real-unrouteable-local", ["nobody@exim.example"], [("nobody@exim.example", "hard", "user_unknown")]),
    ("exim-real-three-mixed", ["unknown.gus@refusing.example", "full.hal@refusing.example", "ivy@refusing.example"],
     [("unknown.gus@refusing.example", "hard", "user_unknown"), ("full.hal@refusing.example", "soft", "mailbox_full")]),
    ("exim-real-sender-refused", ["sender.jo@refusing.example"], [("sender.jo@refusing.example", "soft", "blocked")]),
]

CONFIG = """
primary_hostname = mx.exim.example
exim_path = {exim}
keep_environment = LD_LIBRARY_PATH
qualify_domain = exim.example
spool_directory = {run}/spool
log_file_path = {run}/log/%slog
exim_user = Debian-exim
exim_group = Debian-exim
trusted_users = root
never_users =
host_lookup =
rfc1413_hosts =
bounce_return_message = true
delay_warning =
smtp_connect_backlog = 5

begin routers
ours:
  driver = accept
  domains = bounce.news.example.org
  transport = collect
known_local:
  driver = accept
  domains = exim.example
  local_parts = postmaster
  transport = collect
refusing:
  driver = manualroute
  domains = refusing.example
  route_list = * 127.0.0.1 byname
  self = send
  transport = to_refuser

begin transports
collect:
  driver = appendfile
  directory = {run}/out
  maildir_format
  user = Debian-exim
  group = Debian-exim
  mode = 0644
to_refuser:
  driver = smtp
  port = {port}
  allow_localhost
  hosts_avoid_tls = *

begin retry
# None: a temporary refusal is given up at once, as after a retry period that ran out.
"""

NEWSLETTER = """From: Tech News <news@news.example.org>
To: {to}
Reply-To: Tech News Editors <editors@news.example.org>
Subject: Tech Newsletter, November 2026
Message-ID: <3.{n}.e7e7e7{n:04x}@news.example.org>
List-Id: Tech News <news.news.example.org>
List-Unsubscribe: <https://news.example.org/u/x7Qk{n}>, <mailto:unsubscribe+{n}@news.example.org>
Precedence: bulk
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

Hello,

This month: Rust 2024 in production, and SQLite's WAL mode.
Write to editors@news.example.org with questions.
"""


def exim_binary():
    if os.environ.get("EXIM"):
        return [os.environ["EXIM"]], {}
    found = shutil.which("exim4") or shutil.which("exim")
    if found:
        return [found], {}
    pkg = ROOT / "target" / "exim-pkg"
    binary = pkg / "root" / "usr" / "sbin" / "exim4"
    if not binary.exists():
        pkg.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "exim4-daemon-light", "exim4-base", "libidn12"], cwd=pkg, check=True)
        for deb in pkg.glob("*.deb"):
            subprocess.run(["dpkg", "-x", str(deb), str(pkg / "root")], check=True)
    return [str(binary)], {"LD_LIBRARY_PATH": str(pkg / "root" / "usr" / "lib" / "x86_64-linux-gnu")}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    into = pathlib.Path(sys.argv[sys.argv.index("--into") + 1]) if "--into" in sys.argv else None
    exim, env = exim_binary()
    env = {**os.environ, **env}
    port = free_port()
    server = refusing_smtp.Server(("127.0.0.1", port), refusing_smtp.Session)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    run = pathlib.Path(tempfile.mkdtemp(prefix="tidings-exim."))
    try:
        for d in ("spool", "log", "out"):
            (run / d).mkdir()
        shutil.chown(run / "spool", "Debian-exim", "Debian-exim")
        shutil.chown(run / "log", "Debian-exim", "Debian-exim")
        shutil.chown(run / "out", "Debian-exim", "Debian-exim")
        os.chmod(run, 0o755)
        conf = run / "exim.conf"
        conf.write_text(CONFIG.format(run=run, port=port, exim=exim[0]))
        results = []
        for i, (name, rcpts, want) in enumerate(SCENARIOS):
            n = FIRST + i
            before = set((run / "out").rglob("*"))
            subprocess.run(exim + ["-C", str(conf), "-odi", "-oi", "-f", VERP.format(n=n)] + rcpts, input=NEWSLETTER.format(to=", ".join(rcpts), n=n).encode(), env=env, check=True)
            deadline = time.time() + 10
            new = []
            while time.time() < deadline and not new:
                new = [p for p in set((run / "out").rglob("*")) - before if p.is_file() and "/new/" in str(p)]
                time.sleep(0.1)
            if not new:
                log = (run / "log" / "mainlog").read_text() if (run / "log" / "mainlog").exists() else "(no log)"
                sys.exit(f"{name}: Exim wrote no bounce\n{log}")
            results.append((f"{n}-{name}.eml", new[0].read_bytes(), want))
        version = subprocess.run(exim + ["-bV"], capture_output=True, env=env).stdout.decode().splitlines()[0]
        target = into or run / "bounces"
        target.mkdir(exist_ok=True)
        for file, raw, _ in results:
            (target / file).write_bytes(raw)
        if into:
            expected_path = into / "expected.json"
            expected = json.loads(expected_path.read_text(encoding="utf-8"))
            for file, _, want in results:
                kind = "hard" if any(k == "hard" for _, k, _ in want) else "soft"
                expected[file] = {"kind": kind, "source": "dsn", "recipients": [{"address": a, "kind": k, "reason": r} for a, k, r in want]}
            lines = [f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}" for k, v in sorted(expected.items(), key=lambda kv: (int(kv[0].split('-')[0]), kv[0]))]
            expected_path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
        print(f"{version}: {len(results)} bounces written to {target}")
    finally:
        server.shutdown()
        if into:
            shutil.rmtree(run, ignore_errors=True)


if __name__ == "__main__":
    main()
