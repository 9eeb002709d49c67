"""SnapStart: the template's additions (scripts/deploy/snapstart.py) and the rule in code
(chalicelib/snapstart.py): nothing unique survives a snapshot restore unchecked."""

from __future__ import annotations

import importlib
import random
import sys
import types

import pytest

from scripts.deploy.snapstart import deep_merge, snapstart_additions, supports_snapstart

ROUTES = {"/v1/verifications": ["POST"], "/": ["GET"]}


def test_off_unless_the_stage_asks():
    assert snapstart_additions({}, {"runtime": "python3.13"}, ROUTES) == {}


@pytest.mark.parametrize("runtime", ["python3.11", "python3.9", "nodejs22.x", ""])
def test_refused_before_python_3_12(runtime):
    assert not supports_snapstart(runtime)
    with pytest.raises(ValueError, match="python3.12"):
        snapstart_additions({}, {"snapstart": True, "runtime": runtime}, ROUTES)


def test_published_versions_behind_an_alias_that_the_api_invokes():
    """Against chalice's own generated API (chalice/deploy/swagger.py, CFNSwaggerGenerator):
    after the merge, every integration and the invoke permission name the alias."""
    from chalice.deploy.swagger import CFNSwaggerGenerator

    import app

    swagger = CFNSwaggerGenerator().generate_swagger(app.app)
    chalice_template = {"Resources": {
        "APIHandler": {"Type": "AWS::Serverless::Function", "Properties": {"Runtime": "python3.13"}},
        "APIHandlerInvokePermission": {"Type": "AWS::Lambda::Permission",
                                       "Properties": {"FunctionName": {"Ref": "APIHandler"}}},
        "RestAPI": {"Type": "AWS::Serverless::Api", "Properties": {"DefinitionBody": swagger}},
    }}
    ours = {"Resources": {"RestAPI": {"Properties": {"MethodSettings": [{"ThrottlingRateLimit": 10}]}}}}
    routes = {path: list(methods) for path, methods in app.app.routes.items()}
    additions = snapstart_additions(ours, {"snapstart": True, "runtime": "python3.13"}, routes)
    merged = deep_merge(deep_merge(additions, ours), chalice_template)["Resources"]

    function = merged["APIHandler"]["Properties"]
    assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert function["AutoPublishAlias"] == "live"
    assert merged["APIHandlerInvokePermission"]["Properties"]["FunctionName"] == {"Ref": "APIHandler.Alias"}
    assert merged["RestAPI"]["Properties"]["MethodSettings"] == [{"ThrottlingRateLimit": 10}]  # kept
    uris = [op["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            for methods in merged["RestAPI"]["Properties"]["DefinitionBody"]["paths"].values()
            for op in methods.values() if "x-amazon-apigateway-integration" in op]
    assert uris and all("${APIHandler.Alias}" in uri and ".Arn}" not in uri for uri in uris)


@pytest.fixture
def runtime_hooks(monkeypatch):
    """The runtime's snapshot_restore_py: register_after_restore(func, *args, **kwargs) records
    a hook that the runtime calls after a restore (the module's documented API:
    https://github.com/aws/snapshot-restore-py, README)."""
    hooks = []
    module = types.ModuleType("snapshot_restore_py")
    module.register_after_restore = lambda func, *args, **kwargs: hooks.append((func, args, kwargs))
    module.register_before_snapshot = lambda func, *args, **kwargs: None
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)
    return hooks


def test_nothing_is_registered_outside_lambda():
    from chalicelib import snapstart

    assert "snapshot_restore_py" not in sys.modules
    assert snapstart.register(lambda: None) is False


def test_a_restore_rebuilds_the_service_reseeds_random_and_drops_the_pool(runtime_hooks, service):
    from chalicelib import concurrency, wiring

    importlib.reload(wiring)  # the composition root registers its hook at import, as on Lambda
    try:
        assert len(runtime_hooks) == 1
        before = wiring.get_service()
        pool = concurrency.pool()
        client = before._store._client
        random.seed(7)  # what two containers restored from one snapshot would share
        shared = random.getstate()
        func, args, kwargs = runtime_hooks[0]
        func(*args, **kwargs)  # the runtime, after a restore
        assert random.getstate() != shared
        assert concurrency.pool() is not pool
        after = wiring.get_service()
        assert after is not before and after._store._client is not client
    finally:
        sys.modules.pop("snapshot_restore_py", None)
        importlib.reload(wiring)
