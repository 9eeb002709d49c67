"""Twilio's OpenAPI document for Verify v2, filtered to what this service implements, for
tests/integration/test_twilio_schemathesis.py.

    python tests/data/twilio-oai/filter.py path/to/twilio_verify_v2.json > tests/data/twilio-oai/twilio_verify_v2.json

The source is github.com/twilio/twilio-oai, spec/json/twilio_verify_v2.json (MIT, LICENSE here;
the commit is written into the output's ``x-source``). Two changes, each for a documented
difference (docs/twilio-verify.md):
- only the operations this service implements (OPERATIONS);
- a ``default`` response with Twilio's error shape, which Twilio's document leaves out, so
  the errors are checked against Twilio's shape too.
"""

from __future__ import annotations

import json
import sys

OPERATIONS = {
    "/v2/Services": ("get", "post"),
    "/v2/Services/{Sid}": ("get", "post", "delete"),
    "/v2/Services/{ServiceSid}/Verifications": ("post",),
    "/v2/Services/{ServiceSid}/Verifications/{Sid}": ("get", "post"),
    "/v2/Services/{ServiceSid}/VerificationCheck": ("post",),
    "/v2/Services/{ServiceSid}/Entities": ("post",),
    "/v2/Services/{ServiceSid}/Entities/{Identity}": ("get",),
    "/v2/Services/{ServiceSid}/Entities/{Identity}/Factors": ("get", "post"),
    "/v2/Services/{ServiceSid}/Entities/{Identity}/Factors/{Sid}": ("get", "post", "delete"),
    "/v2/Services/{ServiceSid}/Entities/{Identity}/Challenges": ("post",),
    "/v2/Attempts": ("get",),
    "/v2/Attempts/{Sid}": ("get",),
    "/v2/Attempts/Summary": ("get",),
}
ERROR = {"type": "object", "required": ["code", "message", "more_info", "status"],
         "properties": {"code": {"type": "integer"}, "message": {"type": "string"},
                        "more_info": {"type": "string"}, "status": {"type": "integer"}}}


def filtered(spec: dict, source: str) -> dict:
    paths = {}
    for path, methods in OPERATIONS.items():
        item = {k: v for k, v in spec["paths"][path].items() if k in methods or not isinstance(v, dict)
                or k not in ("get", "post", "delete", "put", "patch")}
        for method in methods:
            item[method]["responses"]["default"] = {
                "description": "Twilio's error shape", "content": {"application/json": {"schema": ERROR}}}
        paths[path] = item
    # Every SID as Twilio's pattern gives it (2 letters + 32 hex): before 34-character SIDs the
    # copy relaxed VE and YF to 48 hex digits; the server still reads those (docs/twilio-verify.md).
    return {**spec, "paths": paths, "x-source": source}


if __name__ == "__main__":
    source = sys.argv[2] if len(sys.argv) > 2 else "github.com/twilio/twilio-oai spec/json/twilio_verify_v2.json"
    print(json.dumps(filtered(json.load(open(sys.argv[1])), source), indent=1, sort_keys=True))
