#!/usr/bin/env python3
"""The WebSub benchmark's driver (run by bench/websub.sh, which starts smtp-sink and serve).

A callback server of its own (asyncio, one port, CALLBACKS distinct paths) answers the hub's
challenges and notes when each path receives a push; the driver times fan-out and sends.
"""
import asyncio
import json
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

binary, out, port, cb_port, n, callbacks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
base = f"http://127.0.0.1:{port}"
pushes = {}  # path -> [arrival times]
lock = threading.Lock()


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
            length = int(headers.get("content-length", "0"))
            if length:
                await reader.readexactly(length)
            path, _, query = target.partition("?")
            body = b""
            if method == "GET":
                body = urllib.parse.parse_qs(query).get("hub.challenge", [""])[0].encode()
            else:
                with lock:
                    pushes.setdefault(path, []).append(time.time())
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def serve_callbacks():
    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", cb_port, backlog=2048)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


threading.Thread(target=serve_callbacks, daemon=True).start()
time.sleep(0.3)


def tidings(*args):
    return subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout


def sql(query):
    return subprocess.run(["sqlite3", f"{out}/tidings.db", query], check=True, capture_output=True, text=True).stdout.strip()


def add_issue(slug, title):
    path = f"{out}/{slug}.md"
    with open(path, "w") as f:
        f.write(f'+++\nlist = "bench"\nslug = "{slug}"\ntitle = "{title}"\ndate = 2026-01-01\n+++\n\n## Focus\n\n◇ News. (Source: bench)\n')
    tidings("issue", "add", path)


def wait_pushes(count_each, since):
    """Waits until every callback has `count_each` pushes; returns seconds from `since` to the last."""
    deadline = time.time() + 120
    while time.time() < deadline:
        with lock:
            done = sum(1 for p in pushes.values() if len(p) >= count_each)
            if done >= callbacks:
                return max(p[count_each - 1] for p in pushes.values()) - since
        time.sleep(0.02)
    sys.exit(f"only {done} of {callbacks} callbacks got push {count_each}")


def send(slug):
    """Queues `slug` for the list and waits until serve has sent it; returns messages/s."""
    started = time.time()
    tidings("issue", "send", slug)
    while True:
        status = json.loads(tidings("issue", "status", slug, "--json"))
        if status["status"] == "sent":
            sent = status["deliveries"]["sent"]
            assert sent == n, f"{slug}: {sent} of {n} sent"
            return n / (time.time() - started)
        time.sleep(0.05)


# 1. Subscribe the callbacks through the hub.
topic = f"{base}/feed.xml"
started = time.time()
for i in range(callbacks):
    data = urllib.parse.urlencode({"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": f"http://127.0.0.1:{cb_port}/cb/{i}", "hub.secret": f"secret-{i}"}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{base}/websub", data=data)) as r:
        assert r.status == 202, r.status
while int(sql("SELECT COUNT(*) FROM websub_subscriptions")) < callbacks:
    time.sleep(0.05)
print(f"subscriptions: {callbacks} requested and verified in {time.time() - started:.2f} s")

# 2. An issue becomes public, nothing else running.
t0 = time.time()
add_issue("first", "First issue")
idle = wait_pushes(1, t0)
print(f"fan-out, idle:       last of {callbacks} callbacks had the new feed {idle:.2f} s after `issue add` (goal < 5 s)")

# 3. A send alone, then the same send while the hub fans out.
alone = send("first")
t1 = time.time()
add_issue("second", "Second issue")
with_hub = send("second")
busy = wait_pushes(2, t1)
print(f"fan-out, during a send: {busy:.2f} s")
print(f"send of {n:,}: alone {alone:,.0f} msg/s, with the hub pushing {with_hub:,.0f} msg/s: slowdown {100 * (1 - with_hub / alone):.1f}% (goal <= 10%)")
