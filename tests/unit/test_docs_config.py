"""docs/configuration.md is the reference of the stage variables: every variable the code reads
has its line there, and a bounded number's line gives the default and range the code applies.

The names are collected from the code, not from a list kept here:
- the service's own variables: every OTP_/SMS_ string constant in app.py, chalicelib/ and scripts/
  (the settings read them through chalicelib/settings/env.py's readers, some in loops over a tuple
  of names, and scripts/ reads the stage's variables from .chalice/config.json);
- the providers' settings, ``<PREFIX>_<SETTING>`` (chalicelib/config.py collects them by prefix):
  the keys each registered provider reads through its context (``required``, ``optional``,
  ``url``) in the methods its channels reach, and the keys its delivery-receipt reader reads
  (``require(settings, ...)``, ``settings.get(...)``) in chalicelib/delivery/callbacks/.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
OWN = re.compile(r"(OTP|SMS)_[A-Z0-9]+(_[A-Z0-9]+)*")
CONTEXT_READERS = ("required", "optional", "url")  # chalicelib/channels/providers/__init__.py ProviderContext
# SmsProvider.deliver, the service's entry point, dispatches to one method per channel.
CHANNEL_METHODS = {"sms": "send_sms", "voice": "call", "whatsapp": "send_whatsapp", "email": "send_email"}


def _sources() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py")),
            *sorted((ROOT / "scripts").rglob("*.py"))]


def own_variables() -> set[str]:
    names = set()
    for path in _sources():
        tree = ast.parse(path.read_text())
        # A capability's public face maps the names it exports (SMS_TEMPLATES) to their modules.
        exported = {id(key) for node in ast.walk(tree) if isinstance(node, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets)
                    and isinstance(node.value, ast.Dict) for key in node.value.keys}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and OWN.fullmatch(node.value) \
                    and id(node) not in exported:
                names.add(node.value)
    return names


def _string_args(call: ast.Call) -> list[str]:
    return [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def _context_keys(function: ast.AST) -> set[str]:
    """Keys read by ``self.context.required("key")`` and the like, and the methods called on self."""
    keys = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in CONTEXT_READERS and isinstance(node.func.value, ast.Attribute) and \
                node.func.value.attr == "context":
            keys.update(_string_args(node)[:1])
    return keys


def _self_calls(function: ast.AST) -> set[str]:
    return {node.func.attr for node in ast.walk(function)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"}


def _method_tree(cls: type, name: str) -> ast.AST | None:
    for klass in cls.__mro__:  # the definition the instance actually runs
        if name in vars(klass):
            if not klass.__module__.startswith("chalicelib."):
                return None
            member = vars(klass)[name]
            return ast.parse(textwrap.dedent(inspect.getsource(getattr(member, "__func__", member))))
    return None


def provider_keys(cls: type, channels: tuple[str, ...], voice: bool) -> set[str]:
    """The settings a provider class reads in the methods its channels reach from ``__init__``
    and ``deliver`` (a subclass's override counts, not the method it replaces; a channel the
    provider does not have is never called)."""
    own = {CHANNEL_METHODS[c] for c in (*channels, *(("voice",) if voice else ()))}
    todo = ["__init__", "deliver", *own]
    seen: set[str] = set(CHANNEL_METHODS.values()) - own
    keys: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        tree = _method_tree(cls, name)
        if tree is not None:
            keys |= _context_keys(tree)
            todo.extend(_self_calls(tree))
    return keys


def _settings_keys(tree: ast.AST) -> set[str]:
    keys = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id == "require":  # chalicelib/delivery/callbacks/__init__.py
            keys.update(_string_args(node)[:1])
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "get" and \
                isinstance(node.func.value, ast.Name) and node.func.value.id == "settings":
            keys.update(_string_args(node)[:1])
    return keys


def callback_keys() -> dict[str, set[str]]:
    """Per provider, the settings its receipt reader reads: the function SCHEMES names, and the
    module's other public functions (Meta's subscription handshake) when one provider owns it."""
    from chalicelib.delivery.callbacks import SCHEMES

    owners: dict[str, list[str]] = {}
    for provider, target in SCHEMES.items():
        owners.setdefault(target.partition(":")[0], []).append(provider)
    found: dict[str, set[str]] = {}
    for provider, target in SCHEMES.items():
        module_name, _, function = target.partition(":")
        tree = ast.parse(Path(importlib.import_module(module_name).__file__ or "").read_text())
        alone = len(owners[module_name]) == 1
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and (
                    node.name == function or (alone and not node.name.startswith("_"))):
                found.setdefault(provider, set()).update(_settings_keys(node))
    return found


def provider_variables() -> set[str]:
    from chalicelib.channels.providers import REGISTRY

    receipts = callback_keys()
    names = set()
    for name, spec in REGISTRY.items():
        module_name, _, class_name = spec.path.partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        keys = provider_keys(cls, spec.channels, spec.voice) | receipts.get(name, set())
        names |= {f"{spec.env_prefix}_{key.upper()}" for key in keys}
    return names


def documented() -> str:
    return DOC.read_text()


def rows() -> dict[str, list[str]]:
    """variable -> its table line's cells (variable, default, meaning)."""
    found = {}
    for match in re.finditer(r"^\| `([A-Z][A-Z0-9_]+)` \|.*$", documented(), re.M):
        assert match.group(1) not in found, f"docs/configuration.md has two lines for {match.group(1)}"
        found[match.group(1)] = [cell.strip() for cell in match.group(0).strip("|").split(" | ")]
    return found


def test_every_variable_the_code_reads_has_its_line_in_the_configuration_reference():
    lines = rows()
    missing = sorted((own_variables() | provider_variables()) - set(lines))
    assert not missing, f"docs/configuration.md has no line for: {', '.join(missing)}"
    short = sorted(name for name, cells in lines.items() if len(cells) != 3 or not all(cells))
    assert not short, f"docs/configuration.md: give a default and a meaning to {', '.join(short)}"


def test_every_line_of_the_reference_names_a_variable_the_code_reads():
    stale = sorted(set(rows()) - own_variables() - provider_variables())
    assert not stale, f"docs/configuration.md documents variables nothing reads: {', '.join(stale)}"


def test_the_collection_finds_the_variables_of_each_kind():
    """The collectors above see what they must (the test above cannot pass by finding nothing)."""
    own = own_variables()
    assert {"OTP_TABLE_NAME", "OTP_EMAIL_EVENTS_TOPIC", "OTP_WHATSAPP_LANGUAGES", "SMS_ROUTES",
            "OTP_ALARM_EMAIL"} <= own
    providers = provider_variables()
    assert {"TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_CONTENT_SID", "SES_FROM", "SES_CONFIGURATION_SET",
            "META_APP_SECRET", "META_VERIFY_TOKEN", "EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID",
            "SIGNALWIRE_SPACE", "VONAGE_SIGNATURE_METHOD", "WEBHOOK_URL",
            "LAMBDA_PROVIDER_FUNCTION"} <= providers
    # SignalWire replaces Twilio's account method and sends no WhatsApp: neither is its setting.
    assert not {"SIGNALWIRE_ACCOUNT_SID", "SIGNALWIRE_WHATSAPP_FROM"} & providers


def _reads(reader: str) -> dict[str, tuple]:
    """name -> the constant arguments after it, of every ``reader(env, NAME, ...)`` call
    (chalicelib/settings/env.py's ``_int(env, name, default, low, high)``, ``_bool(env, name, default)``)."""
    found = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == reader:
                args = node.args[1:]
                if args and all(isinstance(a, ast.Constant) for a in args):
                    values = [a.value for a in args]  # type: ignore[attr-defined]
                    found[values[0]] = tuple(values[1:])
    return found


def test_each_bounded_numbers_line_gives_the_codes_default_and_range():
    settings = _reads("_int")
    assert len(settings) >= 20
    lines = rows()
    wrong = []
    for name, (default, low, high) in sorted(settings.items()):
        cells = lines.get(name, ["", "", ""])
        if cells[1] != str(default) or not cells[2].startswith(f"{low}-{high}"):
            wrong.append(f"{name} (default {default}, {low}-{high})")
    assert not wrong, f"docs/configuration.md's line disagrees with the code: {', '.join(wrong)}"


def test_each_flags_line_gives_the_codes_default():
    flags = _reads("_bool")
    assert {"OTP_ATTEMPTS", "OTP_BREAKER_COUNTRY_WIDE", "OTP_EVENTS_INCLUDE_NUMBER"} <= set(flags)
    lines = rows()
    wrong = [name for name, (default,) in sorted(flags.items())
             if lines.get(name, ["", ""])[1] != f"`{str(default).lower()}`"]
    assert not wrong, f"docs/configuration.md's default disagrees with the code: {', '.join(wrong)}"


def _make_run_reads() -> dict[str, str | None]:
    """name -> its constant default, of every ``os.environ.get(NAME[, default])`` in
    scripts/local/run_local.py (`make run`'s own variables: PORT, and the defaults it gives others)."""
    found: dict[str, str | None] = {}
    for node in ast.walk(ast.parse((ROOT / "scripts" / "local" / "run_local.py").read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and ast.unparse(node.func.value) == "os.environ" and _string_args(node):
            default = node.args[1] if len(node.args) > 1 else None
            found[_string_args(node)[0]] = default.value if isinstance(default, ast.Constant) else None
    return found


def test_every_variable_make_run_reads_has_its_line_with_its_default():
    """Issue 30: `PORT` was documented nowhere. docs/running-locally.md's table gives each
    variable scripts/local/run_local.py reads, with the default it applies when that is a constant."""
    page = (ROOT / "docs" / "running-locally.md").read_text()
    table = {name: line for line in page.splitlines() if line.startswith("| `")
             for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split(" | ")[0])}
    reads = _make_run_reads()
    assert {"PORT", "OTP_PUBLIC_URL", "OTP_SECRET"} <= set(reads)
    missing = sorted(set(reads) - set(table))
    assert not missing, f"docs/running-locally.md has no line for make run's {', '.join(missing)}"
    wrong = sorted(name for name, default in reads.items()
                   if default is not None and f"| `{default}` |" not in table[name])
    assert not wrong, f"docs/running-locally.md's default disagrees with run_local.py: {', '.join(wrong)}"


# -- docs/going-live.md: the operator's page names only settings the code reads -----------------

GOING_LIVE = ROOT / "docs" / "going-live.md"


def _prefixes() -> tuple[str, ...]:
    from chalicelib.channels.providers import REGISTRY

    return ("OTP", "SMS", *sorted({spec.env_prefix for spec in REGISTRY.values()}))


def test_every_setting_the_going_live_page_names_is_one_the_code_reads():
    text = GOING_LIVE.read_text()
    pattern = re.compile(r"\b(?:" + "|".join(_prefixes()) + r")_[A-Z0-9]+(?:_[A-Z0-9]+)*\b")
    named = set(pattern.findall(text))
    assert {"OTP_PUBLIC_URL", "OTP_ALLOWED_ORIGINS", "SNS_ORIGINATION_NUMBER", "SES_FROM",
            "EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID", "OTP_ALARM_EMAIL"} <= named  # the pattern finds them
    unknown = sorted(named - own_variables() - provider_variables())
    assert not unknown, f"docs/going-live.md names settings nothing reads: {', '.join(unknown)}"


def test_the_going_live_page_names_every_alarm_the_template_can_have(monkeypatch):
    """As configured, and with events and the channels on (each adds its alarm)."""
    from scripts.deploy import package_template
    from tests.unit.test_channel_resources import VARIABLES

    original = package_template.stage_variables
    monkeypatch.setattr(package_template, "stage_variables", lambda stage: {
        **original(stage), **VARIABLES, "OTP_EVENTS_URL": "https://backend.example.com/hooks",
        "OTP_EVENTS_SECRET_PARAMETER": "/phone-verify/prod/events-secret"})
    alarms = {name for name, r in package_template.resources("prod")["Resources"].items()
              if r.get("Type") == "AWS::CloudWatch::Alarm"}
    assert len(alarms) == 6
    page = GOING_LIVE.read_text()
    assert not sorted(a for a in alarms if f"`{a}`" not in page), "docs/going-live.md misses an alarm"
    monkeypatch.setattr(package_template, "stage_variables", original)
    always = sum(r.get("Type") == "AWS::CloudWatch::Alarm"
                 for r in package_template.resources("prod")["Resources"].values())
    words = {3: "three", 4: "four", 5: "five"}
    assert f"{words[always].capitalize()} always" in page
    assert f"{words[always]} alarms" in (ROOT / "docs" / "deploying.md").read_text()
