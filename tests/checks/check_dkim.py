"""Verifies a message's DKIM-Signature with dkimpy, an independent implementation.

usage: check_dkim.py MESSAGE.eml TXT_RECORD_FILE
The public key is looked up from the file instead of DNS. Prints {"valid": bool, "tags": {...}}.
"""
import json
import sys

import dkim

message = open(sys.argv[1], "rb").read()
record = open(sys.argv[2], "rb").read().strip()


def dns(name, timeout=5):
    return record


sig = dkim.DKIM(message)
valid = sig.verify(dnsfunc=dns)
tags = {}
for line in message.split(b"\r\n\r\n", 1)[0].replace(b"\r\n\t", b" ").replace(b"\r\n ", b" ").split(b"\r\n"):
    if line.lower().startswith(b"dkim-signature:"):
        for part in line.split(b":", 1)[1].split(b";"):
            if b"=" in part:
                k, v = part.strip().split(b"=", 1)
                tags[k.decode()] = v.decode().replace(" ", "")
print(json.dumps({"valid": bool(valid), "tags": tags}))
