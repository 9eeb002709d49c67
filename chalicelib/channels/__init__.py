"""The channels a code goes out on: messages (SMS, voice, WhatsApp, email), phone numbers and email
addresses, and the providers (providers/) that send them.

Its public face: the names below (``__all__``), imported on first use; every other module
here is its internals (docs/architecture.md, tests/unit/test_architecture.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib import public_face

if TYPE_CHECKING:
    from chalicelib.channels.phone import PhoneNumber as PhoneNumber
    from chalicelib.channels.phone import line_type as line_type
    from chalicelib.channels.phone import parse_phone_number as parse_phone_number
    from chalicelib.channels.phone import parse_region as parse_region
    from chalicelib.channels.phone import require_reachable as require_reachable
    from chalicelib.channels.phone import test_number as test_number
    from chalicelib.channels.email_address import EmailAddress as EmailAddress
    from chalicelib.channels.email_address import is_email as is_email
    from chalicelib.channels.email_address import parse_email as parse_email
    from chalicelib.channels.messages import SERVICE_BRAND_LENGTH as SERVICE_BRAND_LENGTH
    from chalicelib.channels.messages import SMS_TEMPLATES as SMS_TEMPLATES
    from chalicelib.channels.messages import MessageComposer as MessageComposer
    from chalicelib.channels.messages import base_locale as base_locale
    from chalicelib.channels.messages import brand_problem as brand_problem
    from chalicelib.channels.messages import text_problem as text_problem
    from chalicelib.channels.messages import check_budget_of as check_budget_of
    from chalicelib.channels.messages import composer_for as composer_for
    from chalicelib.channels.providers import REGISTRY as REGISTRY
    from chalicelib.channels.providers import Delivery as Delivery
    from chalicelib.channels.providers import ProviderContext as ProviderContext
    from chalicelib.channels.providers import ProviderError as ProviderError
    from chalicelib.channels.providers import SmsProvider as SmsProvider
    from chalicelib.channels.providers import load_provider as load_provider
    from chalicelib.channels.providers.rehearsal import rehearsal_chain as rehearsal_chain
    from chalicelib.channels.providers.console import OUTBOX as OUTBOX

_EXPORTS = {
    "PhoneNumber": "chalicelib.channels.phone",
    "line_type": "chalicelib.channels.phone",
    "parse_phone_number": "chalicelib.channels.phone",
    "parse_region": "chalicelib.channels.phone",
    "require_reachable": "chalicelib.channels.phone",
    "test_number": "chalicelib.channels.phone",
    "EmailAddress": "chalicelib.channels.email_address",
    "is_email": "chalicelib.channels.email_address",
    "parse_email": "chalicelib.channels.email_address",
    "SERVICE_BRAND_LENGTH": "chalicelib.channels.messages",
    "SMS_TEMPLATES": "chalicelib.channels.messages",
    "MessageComposer": "chalicelib.channels.messages",
    "base_locale": "chalicelib.channels.messages",
    "brand_problem": "chalicelib.channels.messages",
    "text_problem": "chalicelib.channels.messages",
    "check_budget_of": "chalicelib.channels.messages",
    "composer_for": "chalicelib.channels.messages",
    "REGISTRY": "chalicelib.channels.providers",
    "Delivery": "chalicelib.channels.providers",
    "ProviderContext": "chalicelib.channels.providers",
    "ProviderError": "chalicelib.channels.providers",
    "SmsProvider": "chalicelib.channels.providers",
    "load_provider": "chalicelib.channels.providers",
    "rehearsal_chain": "chalicelib.channels.providers.rehearsal",
    "OUTBOX": "chalicelib.channels.providers.console",
}
__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:
    __getattr__ = public_face(__name__, _EXPORTS)
