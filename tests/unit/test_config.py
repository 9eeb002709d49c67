"""Configuration: validated once, and every error names its variable."""

from __future__ import annotations

from tests.conftest import reset_app

import pytest

from chalicelib.config import Config, ConfigError

BASE = {"OTP_TABLE_NAME": "phone-verify-test", "OTP_SECRET": "s" * 32, "OTP_STAGE": "test"}
# What a deployed stage takes: the secret from SSM, and (prod) the countries it serves.
DEPLOYED = {"OTP_TABLE_NAME": "phone-verify-prod", "OTP_SECRET_PARAMETER": "/phone-verify/prod/otp-secret",
            "SMS_PROVIDER": "sns", "OTP_ALLOWED_COUNTRIES": "US,CA"}


def test_defaults():
    config = Config.from_env(BASE)
    assert (config.code_length, config.ttl_seconds, config.max_check_attempts) == (6, 600, 5)
    assert (config.max_sends, config.resend_interval_seconds) == (5, 30)
    assert config.default_region == "US" and config.sms_provider == "console"


@pytest.mark.parametrize(
    "name,value",
    [
        ("OTP_CODE_LENGTH", "3"),
        ("OTP_CODE_LENGTH", "11"),
        ("OTP_CODE_LENGTH", "six"),
        ("OTP_CODE_LENGTH", "６"),
        ("OTP_TTL_SECONDS", "59"),
        ("OTP_TTL_SECONDS", "3601"),
        ("OTP_MAX_CHECK_ATTEMPTS", "0"),
        ("OTP_MAX_SENDS", "-1"),
        ("OTP_RESEND_INTERVAL_SECONDS", "1.5"),
        ("OTP_DEFAULT_REGION", "USA"),
        ("SMS_PROVIDER", "carrier-pigeon"),
        ("OTP_STAGE", "staging"),
        ("OTP_TABLE_NAME", "x"),
        ("OTP_SECRET", "short"),
        ("OTP_IDENTITY_SECRET", "i" * 31),
        ("OTP_MESSAGE_TEMPLATE", "no code here"),
        ("OTP_MESSAGE_TEMPLATE", "{code} {code.__class__}"),
        ("OTP_MESSAGE_TEMPLATE", "{code} {"),
        ("OTP_WEBOTP_DOMAIN", "https://example.com/"),
        ("OTP_BRAND_NAME", "B" * 31),
    ],
)
def test_bad_values_fail_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Config.from_env({**BASE, name: value})


def test_table_name_is_required():
    with pytest.raises(ConfigError, match="OTP_TABLE_NAME"):
        Config.from_env({"OTP_SECRET": "s" * 32})


@pytest.mark.parametrize("stage", ["test", "dev", "prod"])
def test_a_secret_is_required_outside_local(stage):
    env = {"OTP_TABLE_NAME": "t-table", "OTP_STAGE": stage, "SMS_PROVIDER": "sns"}
    with pytest.raises(ConfigError, match="OTP_SECRET_PARAMETER"):
        Config.from_env(env)


def test_local_stage_runs_without_a_secret():
    assert Config.from_env({"OTP_TABLE_NAME": "t-table", "OTP_STAGE": "local"}).secret is None


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_console_provider_runs_only_in_local_and_test(stage):
    with pytest.raises(ConfigError, match="SMS_PROVIDER=console is allowed only in the local and test"):
        Config.from_env({**DEPLOYED, "OTP_STAGE": stage, "SMS_PROVIDER": "console"})
    assert Config.from_env({**DEPLOYED, "OTP_STAGE": stage}).sms_provider == "sns"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_deployed_stages_refuse_a_plain_secret_even_the_test_stages(stage):
    with pytest.raises(ConfigError, match="OTP_SECRET is refused .* use OTP_SECRET_PARAMETER"):
        Config.from_env({**DEPLOYED, "OTP_STAGE": stage, "OTP_SECRET": "test-only-secret-never-used-outside-tests-0123456789"})
    with pytest.raises(ConfigError, match="OTP_IDENTITY_SECRET is refused .* use OTP_IDENTITY_SECRET_PARAMETER"):
        Config.from_env({**DEPLOYED, "OTP_STAGE": stage, "OTP_IDENTITY_SECRET": "i" * 40})


def test_an_identity_secret_parameter_is_read_like_the_server_secret():
    config = Config.from_env({**DEPLOYED, "OTP_IDENTITY_SECRET_PARAMETER": "/phone-verify/prod/otp-identity-key"})
    assert config.identity_secret_parameter == "/phone-verify/prod/otp-identity-key"
    assert config.reads_parameters  # re-read after OTP_PARAMETERS_MAX_AGE_SECONDS, as the code key
    assert Config.from_env(BASE).identity_secret_parameter is None  # unset: the code key does both jobs


def test_the_local_stage_refuses_to_run_inside_lambda():
    local = {"OTP_TABLE_NAME": "t-table", "OTP_STAGE": "local"}
    with pytest.raises(ConfigError, match="OTP_STAGE=local must not run inside AWS Lambda"):
        Config.from_env({**local, "AWS_LAMBDA_FUNCTION_NAME": "phone-verify-dev"})
    assert Config.from_env(local).stage == "local"


def test_prod_refuses_to_start_without_allowed_countries():
    env = {k: v for k, v in DEPLOYED.items() if k != "OTP_ALLOWED_COUNTRIES"}
    with pytest.raises(ConfigError, match="OTP_ALLOWED_COUNTRIES is required in the 'prod' stage"):
        Config.from_env({**env, "OTP_STAGE": "prod"})
    assert Config.from_env({**env, "OTP_STAGE": "prod", "OTP_ALLOWED_COUNTRIES": "*"}).limits.allowed_countries == frozenset()
    assert Config.from_env({**env, "OTP_STAGE": "dev"}).stage == "dev"  # dev may serve anywhere


def test_the_old_per_day_check_limit_is_named_with_its_replacement():
    with pytest.raises(ConfigError, match="OTP_MAX_CHECKS_PER_NUMBER_PER_WINDOW"):
        Config.from_env({**BASE, "OTP_MAX_CHECKS_PER_NUMBER_PER_DAY": "10"})


@pytest.mark.parametrize("name,value", [
    ("OTP_ALLOWED_ORIGINS", "*"),
    ("OTP_ALLOWED_ORIGINS", "http://app.example.com"),
    ("OTP_ALLOWED_ORIGINS", "https://app.example.com/path"),
    ("OTP_SMS_ALLOWED_SPECIAL_TYPES", "satellite"),
    ("OTP_BREAKER_COUNTRY_WIDE", "yes"),
    ("OTP_NUMBER_CHECK_WINDOW_SECONDS", "59"),
    ("OTP_MAX_CHECKS_PER_NUMBER_PER_WINDOW", "0"),
])
def test_bad_door_and_abuse_values_fail_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Config.from_env({**BASE, name: value})


def test_allowed_origins_are_exact_and_none_by_default():
    assert Config.from_env(BASE).allowed_origins == frozenset()
    config = Config.from_env({**BASE, "OTP_ALLOWED_ORIGINS": "https://app.example.com, http://localhost:3000/"})
    assert config.allowed_origins == {"https://app.example.com", "http://localhost:3000"}


def test_every_stage_in_chalice_config_is_valid(monkeypatch):
    from tests.conftest import ROOT
    import json

    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())
    for name, stage in stages["stages"].items():
        env = {**stages["environment_variables"], **stage["environment_variables"]}
        assert Config.from_env(env).stage == name


def test_a_bad_value_at_request_time_is_a_contract_500_that_logs_the_variable(
    aws, monkeypatch, caplog
):
    import json as _json

    from chalice.test import Client

    import app as app_module
    from tests.conftest import ROOT

    monkeypatch.setenv("OTP_CODE_LENGTH", "99")
    reset_app()
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as c:
        response = c.http.post(
            "/v1/verifications", headers={"content-type": "application/json"},
            body=_json.dumps({"to": "+14155552671"}),
        )
    assert response.status_code == 500
    assert _json.loads(response.body)["error"]["code"] == "internal_error"
    assert "OTP_CODE_LENGTH" in caplog.text and "OTP_CODE_LENGTH" not in response.body.decode()


def test_provider_chain_routes_and_settings():
    config = Config.from_env({
        **BASE, "SMS_PROVIDER": "twilio, sns", "SMS_ROUTES": '{"JP": "xoxzo", "*": "twilio,sns"}',
        "TWILIO_ACCOUNT_SID": "AC1", "XOXZO_SID": "x", "PLIVO_AUTH_ID": "not-used",
    })
    assert config.sms_providers == ("twilio", "sns")
    assert config.chain_for("JP") == ("xoxzo",) and config.chain_for("DK") == ("twilio", "sns")
    assert config.provider_settings == {"twilio": {"account_sid": "AC1"}, "sns": {}, "xoxzo": {"sid": "x"}}


@pytest.mark.parametrize(
    "name,value",
    [
        ("SMS_PROVIDER", "twilio,carrier-pigeon"),
        ("SMS_PROVIDER", "twilio,twilio"),
        ("SMS_PROVIDER", ","),
        ("SMS_ROUTES", "not json"),
        ("SMS_ROUTES", '{"JPN": "xoxzo"}'),
        ("SMS_ROUTES", '{"JP": ["xoxzo"]}'),
        ("SMS_ROUTES[JP]", '{"JP": "nobody"}'),
        ("OTP_ANDROID_APP_HASH", "short"),
    ],
)
def test_bad_provider_values_fail_naming_the_variable(name, value):
    variable = name.split("[")[0]
    with pytest.raises(ConfigError, match=name.replace("[", r"\[").replace("]", r"\]")):
        Config.from_env({**BASE, variable: value})


def test_console_anywhere_in_prod_routes_is_refused():
    with pytest.raises(ConfigError, match="console"):
        Config.from_env({**DEPLOYED, "OTP_STAGE": "prod", "SMS_ROUTES": '{"US": "console"}'})


def test_the_upper_bound_of_a_range_is_accepted():
    config = Config.from_env({**BASE, "OTP_MAX_REQUESTS_PER_IP_PER_HOUR": "1000000"})
    assert config.limits.requests_per_ip_per_hour == 1_000_000
    with pytest.raises(ConfigError, match="OTP_MAX_REQUESTS_PER_IP_PER_HOUR"):
        Config.from_env({**BASE, "OTP_MAX_REQUESTS_PER_IP_PER_HOUR": "1000001"})


# -- receipts ---------------------------------------------------------------------------------

RECEIPTS_DEPLOYED = {"OTP_TABLE_NAME": "t-table", "OTP_STAGE": "prod", "SMS_PROVIDER": "sns", "OTP_SECRET_PARAMETER": "/p",
            "OTP_ALLOWED_COUNTRIES": "US", "OTP_PUBLIC_URL": "https://verify.example.com", "OTP_RECEIPT_KEY_IDS": "alias/phone-verify-prod-receipts"}


def test_receipt_defaults_and_rotation_list():
    config = Config.from_env({**RECEIPTS_DEPLOYED, "OTP_PUBLIC_URL": "https://verify.example.com/api/",
                              "OTP_RECEIPT_KEY_IDS": "alias/new, arn:aws:kms:us-east-1:123456789012:key/"
                                                     "1234abcd-12ab-34cd-56ef-1234567890ab"})
    assert config.public_url == config.receipt_audience == "https://verify.example.com/api"
    assert config.receipt_ttl_seconds == 300
    assert config.receipt_key_ids == ("alias/new", "arn:aws:kms:us-east-1:123456789012:key/"
                                                   "1234abcd-12ab-34cd-56ef-1234567890ab")


def test_deployed_stages_sign_with_the_stages_key_by_default():
    env = {k: v for k, v in RECEIPTS_DEPLOYED.items() if k not in ("OTP_PUBLIC_URL", "OTP_RECEIPT_KEY_IDS")}
    config = Config.from_env(env)
    assert config.receipt_key_ids == ("alias/phone-verify-prod-receipts",)
    assert config.public_url == config.receipt_audience == "urn:phone-verify:prod"


@pytest.mark.parametrize("name,value", [
    ("OTP_PUBLIC_URL", "http://verify.example.com"),  # http only in local and test
    ("OTP_PUBLIC_URL", "verify.example.com"),
    ("OTP_PUBLIC_URL", "https://verify.example.com/?q=1"),
    ("OTP_RECEIPT_KEY_IDS", "my-key"),
    ("OTP_RECEIPT_KEY_IDS", "alias/a,alias/a"),
    ("OTP_RECEIPT_TTL_SECONDS", "29"),
    ("OTP_RECEIPT_TTL_SECONDS", "3601"),
    ("OTP_RECEIPT_AUDIENCE", "a" * 257),
])
def test_bad_receipt_settings_name_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Config.from_env({**RECEIPTS_DEPLOYED, name: value})


def test_local_and_test_stages_run_without_a_receipt_key():
    config = Config.from_env(BASE)
    assert config.receipt_key_ids == () and config.public_url == "http://localhost:8000"


def test_one_reading_of_the_public_url_serves_the_issuer_and_the_callbacks():
    local = {"OTP_TABLE_NAME": "t-table", "OTP_STAGE": "local"}
    config = Config.from_env({**local, "OTP_PUBLIC_URL": "http://127.0.0.1:8000/"})
    assert config.public_url == config.callback_base_url == "http://127.0.0.1:8000"
    assert Config.from_env(local).callback_base_url is None  # no callbacks without the variable
    with pytest.raises(ConfigError, match="OTP_PUBLIC_URL"):  # providers would POST in the clear
        Config.from_env({**local, "OTP_PUBLIC_URL": "http://verify.example.com"})
