"""API Gateway proxy events for calling the Lambda handler directly (no HTTP server)."""

from __future__ import annotations

import json


def api_event(method: str, path: str, body: dict | None = None, source_ip: str = "198.51.100.7",
              resource: str | None = None, path_parameters: dict | None = None) -> dict:
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {"content-type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method,
            "path": f"/api{path}",
            "identity": {"sourceIp": source_ip},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


class Context:
    function_name = "phone-verify-bench"
    memory_limit_in_mb = 512
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000
