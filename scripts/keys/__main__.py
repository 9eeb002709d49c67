"""`python -m scripts.keys rotate-receipts|retire-previous-receipts <stage>`: the KMS keys' commands
(scripts/keys/kms.py), under the name they had before scripts/ was grouped (docs/security.md)."""

from __future__ import annotations

import sys

from scripts.keys.kms import main

raise SystemExit(main(sys.argv[1:]))
