"""The doors as API Gateway will enforce them: read from `make package`'s template (what
CloudFormation deploys), not from the app's own view of itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SERVER = {("get", "/v1/verifications/{verification_id}"), ("delete", "/v1/verifications/{verification_id}"),
          ("post", "/v1/totp/factors"), ("get", "/v1/totp/factors"), ("delete", "/v1/totp/factors/{factor_id}"),
          ("post", "/v1/totp/factors/{factor_id}/verify"), ("post", "/v1/totp/challenges"),
          ("post", "/v1/totp/factors/{factor_id}/enable")}
START_AND_CHECK = {("post", "/v1/verifications"), ("post", "/v1/verifications/check"),
                   ("post", "/request-auth"), ("post", "/validate-auth"),
                   # the page's passkeys: the public door, as start and check
                   *(("post", f"/v1/passkeys/{p}") for p in ("registrations", "registrations/verify", "challenges",
                                                             "challenges/approve"))}


def _package(tmp_path: Path, **env: str) -> dict:
    bin_dir = Path(sys.executable).parent
    environ = {k: v for k, v in os.environ.items() if k != "OTP_PUBLIC_API"}
    environ.update(AWS_DEFAULT_REGION=environ.get("AWS_DEFAULT_REGION", "us-east-1"), **env)
    out = tmp_path / "out"
    subprocess.run([str(bin_dir / "chalice"), "package", "--stage", "prod", str(out)], cwd=ROOT, env=environ,
                   check=True, capture_output=True)
    return json.loads((out / "sam.json").read_text())["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]


def _iam_operations(swagger: dict) -> tuple[set, set]:
    schemes = swagger.get("securityDefinitions", {})
    iam_schemes = {name for name, s in schemes.items() if s.get("x-amazon-apigateway-authtype") == "awsSigv4"}
    iam, other = set(), set()
    for path, methods in swagger["paths"].items():
        for method, operation in methods.items():
            names = {name for requirement in operation.get("security") or [] for name in requirement}
            (iam if names & iam_schemes else other).add((method, path))
    return iam, other


@pytest.mark.parametrize("public_api", ["true", "false"])
def test_every_server_route_is_aws_iam_and_no_public_route_is(tmp_path, public_api):
    iam, open_ = _iam_operations(_package(tmp_path, OTP_PUBLIC_API=public_api))
    expected = SERVER | (START_AND_CHECK if public_api == "false" else set())
    assert iam == expected
    assert ("get", "/") in open_ and ("get", "/openapi.json") in open_
    assert {("options", "/v1/verifications"), ("options", "/v1/verifications/check")} <= open_
