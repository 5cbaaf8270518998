#!/usr/bin/env python3
"""Parses a message with Python's `email` package (policy.default) and reports what a mail
client would see: decoded headers, the MIME structure and any defects. Exits 1 on a defect.
"""
import email
import json
import sys
from email import policy

raw = open(sys.argv[1], "rb").read()
msg = email.message_from_bytes(raw, policy=policy.default)
defects = [repr(d) for part in msg.walk() for d in part.defects]
headers = {k: str(v) for k, v in msg.items()}
parts = []
for part in msg.walk():
    if part.is_multipart():
        parts.append({"type": part.get_content_type()})
        continue
    parts.append({"type": part.get_content_type(), "charset": part.get_content_charset(), "cte": part.get("Content-Transfer-Encoding"), "content": part.get_content()})
longest = max(len(line) for line in raw.split(b"\r\n"))
report = {"headers": headers, "parts": parts, "defects": defects, "longest_line": longest, "crlf_only": b"\n" not in raw.replace(b"\r\n", b"")}
print(json.dumps(report, ensure_ascii=False))
if defects:
    sys.exit(f"defects: {defects}")
