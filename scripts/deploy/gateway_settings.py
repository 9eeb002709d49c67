"""API Gateway's stage settings that `chalice deploy` leaves out: per-stage throttling and API
Gateway's own answers (a path that does not exist, its throttling, its faults) in the contract's
shape. `make deploy` applies them after `chalice deploy` (scripts/deploy/provision.py after); `make
package` writes the same values into the stack (scripts/deploy/package_template.py).
"""

from __future__ import annotations

import json
from typing import Any

from scripts.deploy.stage import stage_config, stage_kind

# API Gateway throttling (requests per second, burst) by the stage's kind, unless the stage sets
# its own `"api_throttle": {"rate": R, "burst": B}` in .chalice/config.json (docs/deploying.md;
# at scale the account's throttle, not these, is the ceiling: docs/scale.md).
THROTTLING = {"dev": (10, 20), "prod": (100, 200)}
# API Gateway's own ceiling on a method's throttle is the account's (10,000/s and 5,000 burst
# by default, adjustable): a stage set far above any account's is a typo.
_MAX_RATE = 1_000_000


def throttling(stage: str) -> tuple[float, int]:
    """The stage's (rate, burst): its `api_throttle`, else its kind's (scripts/deploy/stage.py
    stage_kind: a stage of any name that is prod is throttled as prod). One clear line when
    the option is wrong."""
    option = stage_config(stage).get("api_throttle")
    if option is None:
        return THROTTLING.get(stage_kind(stage), THROTTLING["dev"])
    problem = (f"stage {stage}: api_throttle must be {{\"rate\": requests a second, \"burst\": requests}}, "
               f"each a positive number up to {_MAX_RATE:,} (burst a whole number), not {option!r}")
    if not isinstance(option, dict) or set(option) != {"rate", "burst"}:
        raise SystemExit(problem)
    rate, burst = option["rate"], option["burst"]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (rate, burst))
    if not numbers or not 0 < rate <= _MAX_RATE or not isinstance(burst, int) or not 0 < burst <= _MAX_RATE:
        raise SystemExit(problem)
    return float(rate), burst

# API Gateway's own answers (a path that is no route, a wrong method on a route's resource, a
# bad signature, its throttling, its faults) in the contract's shape, each with a fixed message:
# nothing of the request. $context.error.messageString is not used: for a path that is no route
# it repeats the request's Authorization header ("... Authorization=Basic <base64 of
# SK...:secret>"), and the SDKs put the message into their exceptions, so apps would log their
# secret. (Under /v2 neither a path that is no route nor a wrong method on a route's path
# comes here: both reach the function, Twilio's 404 and 405, chalicelib/twilio_v2/routes.py.)
# The messages hold no "$" or "#" (the template is VTL).
GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found", "No such resource, or no such method on it"),
    "RESOURCE_NOT_FOUND": ("404", "not_found", "No such resource"),
    "THROTTLED": ("429", "throttled", "Too many requests to the API: retry later"),
    "QUOTA_EXCEEDED": ("429", "quota_exceeded", "The API key's usage plan quota is used up"),
    "INVALID_API_KEY": ("403", "invalid_api_key", "The x-api-key header is missing or not a key of this API"),
    "DEFAULT_4XX": (None, "invalid_request",
                    "The API refused the request: a missing or invalid credential (an IAM signature, "
                    "an API key), or a request it does not take"),
    "DEFAULT_5XX": (None, "internal_error", "The API could not answer: retry later"),
}


def gateway_response_template(code: str, message: str) -> str:
    """The body, a constant: no $context, $input or $stageVariables in it."""
    if "$" in message or "#" in message:
        raise ValueError(f"a gateway response's message is VTL: no $ or # in {message!r}")
    return json.dumps({"error": {"code": code, "message": message}})


def ensure_gateway_responses(apigateway: Any, rest_api_id: str, api_stage: str) -> list[str]:
    """Put API Gateway's own answers, then deploy the stage: a gateway response is part of the
    API's definition and is live only in a deployment made after it (chalice's deployment came
    before these, and its next put_rest_api(mode=overwrite) may drop them: aws-cdk#10963)."""
    for response_type, (status, code, message) in GATEWAY_RESPONSES.items():
        params = {"restApiId": rest_api_id, "responseType": response_type,
                  "responseTemplates": {"application/json": gateway_response_template(code, message)}}
        if status:
            params["statusCode"] = status
        apigateway.put_gateway_response(**params)
    deployment = apigateway.create_deployment(
        restApiId=rest_api_id, stageName=api_stage,
        description="scripts/deploy/provision.py after: gateway responses in the contract's shape",
    )
    return ["API Gateway's own error answers use the contract's shape "
            f"(deployment {deployment['id']} on {api_stage})"]


def ensure_throttling(apigateway: Any, rest_api_id: str, api_stage: str, stage: str) -> str:
    """The stage's throttling (``throttling``) on every method; set after the deployment
    ensure_gateway_responses makes (moto replaces a stage's settings on a new deployment, and
    throttling set after it holds in either case)."""
    rate, burst = throttling(stage)
    apigateway.update_stage(
        restApiId=rest_api_id,
        stageName=api_stage,
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(rate)},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(burst)},
        ],
    )
    return f"API Gateway stage {api_stage}: throttling {rate:g} requests/s, burst {burst}"
