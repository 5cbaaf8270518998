#!/usr/bin/env python3
"""Validates a JSON Feed 1.1 document with the jsonschema package against
jsonfeed-1.1.schema.json, formats included (URIs, RFC 3339 dates), plus what a schema cannot
say: item ids unique. Prints a JSON summary (title, next_url, item ids); exits 1 on any error.
"""
import datetime
import json
import pathlib
import sys

import jsonschema

schema = json.loads((pathlib.Path(__file__).parent / "jsonfeed-1.1.schema.json").read_text())
path = sys.argv[1]
expect_items = int(sys.argv[2]) if len(sys.argv) > 2 else None
feed = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))

checker = jsonschema.FormatChecker()


@checker.checks("date-time", raises=ValueError)
def rfc3339(value):
    # RFC 3339 needs a date, a time and an offset; fromisoformat alone accepts less.
    if not isinstance(value, str):
        return True
    if "T" not in value.upper() or not (value.endswith("Z") or value[-6] in "+-"):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@checker.checks("uri", raises=ValueError)
def uri(value):
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc or any(c in value for c in " <>\"{}|\\^`"):
        raise ValueError(f"{value!r} is not an absolute URI")
    return True


validator = jsonschema.Draft202012Validator(schema, format_checker=checker)
errors = sorted(validator.iter_errors(feed), key=lambda e: list(e.path))
if errors:
    sys.exit("\n".join(f"{path}: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors))
ids = [item["id"] for item in feed["items"]]
if len(ids) != len(set(ids)):
    sys.exit(f"{path}: item ids repeat")
if expect_items is not None and len(ids) != expect_items:
    sys.exit(f"{path}: expected {expect_items} items, found {len(ids)}")
print(json.dumps({"title": feed["title"], "next_url": feed.get("next_url"), "hubs": feed.get("hubs"), "ids": ids}, ensure_ascii=False))
