"""Warm starts as stage options of `make package`: Lambda SnapStart (python3.12 and later
runtimes) or provisioned concurrency, never both (Lambda refuses the two on one version).

Both apply to published versions only, so the function gets an alias that SAM publishes on
every deploy (``AutoPublishAlias``) and API Gateway must invoke that alias, not $LATEST (whose
invocations would use neither the snapshot nor the provisioned containers): every integration
URI and the API's invoke permission are pointed at the alias. SnapStart snapshots the
initialised function when a version is published and starts new containers from that
snapshot; provisioned concurrency keeps ``provisioned_concurrency`` containers initialised on
the alias, billed while they exist, and Lambda sends a request to one of them before it starts
a new one (docs/scale.md).

``published_alias_additions`` returns the part of the template to deep-merge (the way
``chalice package --merge-template`` merges: dicts merged key by key, other values replaced)
into the resources `make package` already merges. The app's side of SnapStart's rule (nothing
unique survives a restore unchecked) is chalicelib/snapstart.py.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

FUNCTION = "APIHandler"  # chalice package's logical id for the API's function
ALIAS = "live"
_INVOKE_ALIAS = (
    "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31"
    f"/functions/${{{FUNCTION}.Alias}}/invocations"
)


def supports_snapstart(runtime: str) -> bool:
    match = re.fullmatch(r"python3\.(\d+)", runtime)
    return match is not None and int(match.group(1)) >= 12


# Lambda's own ceiling is the account's concurrency (1,000 by default, adjustable), less the
# 100 it keeps unreserved; a stage asking for more than any account holds is a typo.
MAX_PROVISIONED = 100_000


def published_alias_additions(
    template: Mapping[str, Any], options: Mapping[str, Any], routes: Mapping[str, Iterable[str]]
) -> dict[str, Any]:
    """The additions for a stage whose options say ``"snapstart": true`` or
    ``"provisioned_concurrency": N``; {} otherwise. ValueError, saying why, for both at once,
    a runtime SnapStart does not take, or an N that is not a whole number from 1 to
    MAX_PROVISIONED.

    ``template``: the merge template built so far (its RestAPI properties are kept by the
    deep merge); ``options``: the stage's options, with ``runtime`` (e.g. "python3.13");
    ``routes``: path -> HTTP methods (``app.app.routes``), whose integrations are retargeted.
    """
    snapstart, provisioned = options.get("snapstart"), options.get("provisioned_concurrency")
    if not snapstart and provisioned is None:
        return {}
    if snapstart and provisioned is not None:
        raise ValueError("snapstart and provisioned_concurrency cannot both be on: Lambda refuses "
                         "SnapStart on a version with provisioned concurrency; choose one")
    if snapstart:
        runtime = str(options.get("runtime", ""))
        if not supports_snapstart(runtime):
            raise ValueError(f"SnapStart needs a python3.12 or later runtime, not {runtime!r}")
        warm: dict[str, Any] = {"SnapStart": {"ApplyOn": "PublishedVersions"}}
    else:
        if isinstance(provisioned, bool) or not isinstance(provisioned, int) \
                or not 1 <= provisioned <= MAX_PROVISIONED:
            raise ValueError("provisioned_concurrency must be a whole number of containers from 1 to "
                             f"{MAX_PROVISIONED:,}, not {provisioned!r}")
        warm = {"ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": provisioned}}
    alias = str(options.get("alias", ALIAS))
    integration = {"x-amazon-apigateway-integration": {"uri": {"Fn::Sub": _INVOKE_ALIAS}}}
    paths = {path: {method.lower(): integration for method in methods} for path, methods in routes.items()}
    api = template.get("Resources", {}).get("RestAPI", {})
    return {
        "Resources": {
            FUNCTION: {"Properties": {"AutoPublishAlias": alias, **warm}},
            f"{FUNCTION}InvokePermission": {"Properties": {"FunctionName": {"Ref": f"{FUNCTION}.Alias"}}},
            "RestAPI": deep_merge({"Properties": {"DefinitionBody": {"paths": paths}}}, api),
        }
    }


def deep_merge(extra: Any, base: Any) -> Any:
    """``extra`` over ``base`` the way chalice package's TemplateDeepMerger does."""
    if isinstance(extra, Mapping) and isinstance(base, Mapping):
        merged = dict(base)
        for key, value in extra.items():
            merged[key] = deep_merge(value, base.get(key))
        return merged
    return extra
