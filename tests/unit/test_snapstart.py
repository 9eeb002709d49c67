"""SnapStart: the template's additions (scripts/deploy/snapstart.py) and the rule in code
(chalicelib/snapstart.py): nothing unique survives a snapshot restore unchecked."""

from __future__ import annotations

import importlib
import random
import sys
import types

import pytest

from scripts.deploy.snapstart import deep_merge, published_alias_additions, supports_snapstart

ROUTES = {"/v1/verifications": ["POST"], "/": ["GET"]}


def test_off_unless_the_stage_asks():
    assert published_alias_additions({}, {"runtime": "python3.13"}, ROUTES) == {}


@pytest.mark.parametrize("runtime", ["python3.11", "python3.9", "nodejs22.x", ""])
def test_refused_before_python_3_12(runtime):
    assert not supports_snapstart(runtime)
    with pytest.raises(ValueError, match="python3.12"):
        published_alias_additions({}, {"snapstart": True, "runtime": runtime}, ROUTES)


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
    additions = published_alias_additions(ours, {"snapstart": True, "runtime": "python3.13"}, routes)
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


def test_provisioned_concurrency_on_the_same_published_alias():
    """A stage's "provisioned_concurrency": N: the containers are kept on the alias API Gateway
    invokes (provisioned concurrency, like SnapStart, applies to published versions only)."""
    additions = published_alias_additions({}, {"provisioned_concurrency": 40, "runtime": "python3.11"}, ROUTES)
    function = additions["Resources"]["APIHandler"]["Properties"]
    assert function == {"AutoPublishAlias": "live",
                        "ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": 40}}
    assert additions["Resources"]["APIHandlerInvokePermission"]["Properties"]["FunctionName"] == {
        "Ref": "APIHandler.Alias"}
    uris = [op["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            for methods in additions["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"].values()
            for op in methods.values()]
    assert len(uris) == 2 and all("${APIHandler.Alias}" in uri for uri in uris)


def test_snapstart_and_provisioned_concurrency_are_refused_together():
    """Lambda: "SnapStart does not support provisioned concurrency" (its SnapStart page)."""
    with pytest.raises(ValueError, match="cannot both be on"):
        published_alias_additions({}, {"snapstart": True, "provisioned_concurrency": 5,
                                       "runtime": "python3.13"}, ROUTES)


@pytest.mark.parametrize("count", [0, -1, 2.5, "10", True, 100_001])
def test_a_wrong_provisioned_concurrency_is_refused(count):
    with pytest.raises(ValueError, match="whole number of containers"):
        published_alias_additions({}, {"provisioned_concurrency": count, "runtime": "python3.13"}, ROUTES)


def test_make_package_says_a_wrong_option_in_one_line(monkeypatch):
    """Through `make package`'s template: the stage named, one line, no traceback."""
    import json

    from scripts.deploy import package_template
    from scripts.deploy import stage as deploy_stage

    real = deploy_stage.chalice_config()

    def config() -> dict:
        copied = json.loads(json.dumps(real))
        copied["stages"]["prod"].update(snapstart=True, provisioned_concurrency=10)
        return copied

    monkeypatch.setattr(deploy_stage, "chalice_config", config)
    with pytest.raises(SystemExit) as refused:
        package_template.resources("prod")
    assert str(refused.value).startswith("stage prod: snapstart and provisioned_concurrency cannot both be on")
    assert "\n" not in str(refused.value)


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
