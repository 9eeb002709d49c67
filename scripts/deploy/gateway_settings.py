"""API Gateway's stage settings that `chalice deploy` leaves out: per-stage throttling and API
Gateway's own answers (a path that does not exist, its throttling, its faults) in the contract's
shape. `make deploy` applies them after `chalice deploy` (scripts/deploy/provision.py after); `make
package` writes the same values into the stack (scripts/deploy/package_template.py).
"""

from __future__ import annotations

import json
from typing import Any

# Per-stage API Gateway throttling (requests per second, burst), applied after deploy.
THROTTLING = {"dev": (10, 20), "prod": (100, 200)}

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
    """The stage's throttling on every method (THROTTLING, else dev's); set after the deployment
    ensure_gateway_responses makes (moto replaces a stage's settings on a new deployment, and
    throttling set after it holds in either case)."""
    rate, burst = THROTTLING.get(stage, (10, 20))
    apigateway.update_stage(
        restApiId=rest_api_id,
        stageName=api_stage,
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(rate)},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(burst)},
        ],
    )
    return f"API Gateway stage {api_stage}: throttling {rate} requests/s, burst {burst}"
