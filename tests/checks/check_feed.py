#!/usr/bin/env python3
"""Validates an RSS or Atom file with feedparser (a third-party parser, as feed readers use).

Prints a JSON summary (feed title, entries with title/link/id) and exits 1 when feedparser
reports the feed as malformed (bozo) or finds no entries when some are expected.
"""
import json
import sys

import feedparser

path = sys.argv[1]
expect_entries = int(sys.argv[2]) if len(sys.argv) > 2 else None
parsed = feedparser.parse(path)
if parsed.bozo:
    sys.exit(f"{path}: feedparser says malformed: {parsed.bozo_exception!r}")
entries = [
    {"title": e.get("title"), "link": e.get("link"), "id": e.get("id"), "content": (e.get("content") or [{}])[0].get("value", "")[:200]}
    for e in parsed.entries
]
if expect_entries is not None and len(entries) != expect_entries:
    sys.exit(f"{path}: expected {expect_entries} entries, found {len(entries)}")
print(json.dumps({"version": parsed.version, "title": parsed.feed.get("title"), "language": parsed.feed.get("language"), "entries": entries}, ensure_ascii=False))
