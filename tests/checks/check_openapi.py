"""Validates an OpenAPI document with openapi-spec-validator, an independent implementation.

usage: check_openapi.py DOCUMENT.json
Prints {"valid": bool, "version": "...", "error": "..."}.
"""
import json
import sys

from openapi_spec_validator import validate

document = json.load(open(sys.argv[1]))
try:
    validate(document)
    print(json.dumps({"valid": True, "version": document.get("openapi")}))
except Exception as e:  # the validator raises several exception types; report any
    print(json.dumps({"valid": False, "version": document.get("openapi"), "error": str(e)[:2000]}))
