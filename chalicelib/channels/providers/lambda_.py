"""The Lambda provider: invoke your own function (LAMBDA_PROVIDER_FUNCTION) synchronously
with the same payload the webhook provider posts, and let it send the message.

Invoke (botocore/data/lambda/2015-03-31/service-2.json, InvocationResponse): StatusCode 200
for a RequestResponse call, ``FunctionError`` ("Unhandled"; "Handled" in old runtimes) when the
function raised, and ``Payload``, a stream with the function's JSON answer or, on a function
error, ``{"errorMessage", "errorType", "stackTrace"}``. The function answers
``{"message_id": "..."}`` when it sent the message, or ``{"error": {"permanent": true|false,
"detail": "..."}}``. Only ``"permanent": true`` stops the chain; a crash, a timeout, an
unexpected answer or any AWS error is transient.

The payload carries the code: it is never logged, and an error's detail keeps only the error
type, because a function's errorMessage may quote the event it was given.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from chalicelib.channels.providers import Delivery, ProviderError, SmsProvider, aws_transport_error
from chalicelib.channels.providers.webhook import payload

if TYPE_CHECKING:
    from chalicelib.channels.messages import SmsMessage
    from chalicelib.channels.phone import PhoneNumber

# Invoke errors: ResourceNotFound, AccessDenied (the policy), TooManyRequests, ServiceException,
# the function's own limits (RequestTooLarge, ...): all about this provider, all transient.
_SAFE = re.compile(r"[A-Za-z0-9_.:-]{1,80}", re.ASCII)


def _safe(value: object) -> str:
    """A short identifier for logs (an error type, a code), or '?' if it is anything else."""
    return value if isinstance(value, str) and _SAFE.fullmatch(value) else "?"


class LambdaProvider(SmsProvider):
    name = "lambda"
    supports_voice = True

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        raise NotImplementedError("the lambda provider is driven through deliver()")

    def deliver(self, delivery: Delivery) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        function = self.context.required("function")
        body = json.dumps(payload(delivery), ensure_ascii=False).encode()
        try:
            response = self.context.aws_client("lambda").invoke(
                FunctionName=function, InvocationType="RequestResponse", Payload=body
            )
            raw = response["Payload"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise ProviderError(self.name, permanent=False, detail=_safe(code)) from None
        except BotoCoreError as exc:
            raise aws_transport_error(self.name, exc) from None
        answer = _json(raw)
        if response.get("FunctionError"):
            error_type = answer.get("errorType") if isinstance(answer, dict) else None
            detail = f"FunctionError={_safe(response['FunctionError'])} errorType={_safe(error_type)}"
            raise ProviderError(self.name, permanent=False, detail=detail)
        if isinstance(answer, dict) and isinstance(answer.get("message_id"), (str, int)):
            if str(answer["message_id"]):
                return str(answer["message_id"])[:100]
        error = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(error, dict):
            permanent = error.get("permanent") is True
            detail = str(error.get("detail", ""))[:200].replace(delivery.code, "*" * len(delivery.code))
            raise ProviderError(self.name, permanent=permanent, detail=f"error: {detail}".strip())
        raise ProviderError(self.name, permanent=False, detail="unexpected answer")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None
