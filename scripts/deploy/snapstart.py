"""Lambda SnapStart as a stage option of `make package` (python3.12 and later runtimes).

SnapStart snapshots the initialised function when a version is published and starts new
containers from that snapshot. It applies to published versions only, so the function gets
an alias that SAM publishes on every deploy (``AutoPublishAlias``) and API Gateway must invoke
that alias, not $LATEST (whose invocations would never use the snapshot): every integration
URI and the API's invoke permission are pointed at the alias.

``snapstart_additions`` returns the part of the template to deep-merge (the way
``chalice package --merge-template`` merges: dicts merged key by key, other values replaced)
into the resources `make package` already merges. The app's side of the rule (nothing unique
survives a restore unchecked) is chalicelib/snapstart.py.
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


def snapstart_additions(
    template: Mapping[str, Any], options: Mapping[str, Any], routes: Mapping[str, Iterable[str]]
) -> dict[str, Any]:
    """The additions for a stage whose options say ``"snapstart": true``; {} otherwise.

    ``template``: the merge template built so far (its RestAPI properties are kept by the
    deep merge); ``options``: the stage's options, with ``runtime`` (e.g. "python3.13");
    ``routes``: path -> HTTP methods (``app.app.routes``), whose integrations are retargeted.
    """
    if not options.get("snapstart"):
        return {}
    runtime = str(options.get("runtime", ""))
    if not supports_snapstart(runtime):
        raise ValueError(f"SnapStart needs a python3.12 or later runtime, not {runtime!r}")
    alias = str(options.get("alias", ALIAS))
    integration = {"x-amazon-apigateway-integration": {"uri": {"Fn::Sub": _INVOKE_ALIAS}}}
    paths = {path: {method.lower(): integration for method in methods} for path, methods in routes.items()}
    api = template.get("Resources", {}).get("RestAPI", {})
    return {
        "Resources": {
            FUNCTION: {"Properties": {
                "AutoPublishAlias": alias,
                "SnapStart": {"ApplyOn": "PublishedVersions"},
            }},
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
