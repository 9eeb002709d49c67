"""Amazon Cognito's CustomSMSSender trigger (docs/identity-platforms.md): the user pool invokes
this stack's ``cognito_sms`` function with its event; the code in ``request.code`` is
encrypted by the AWS Encryption SDK under the KMS key this stack made for it
(OTP_HOOK_COGNITO_KEY_ID), and is decrypted here with that SDK, which is in the function's
layer only (never in the API's zip) and imported on the first event.

Authentication is the ciphertext itself: only a principal allowed to encrypt under that key
(the key policy names cognito-idp.amazonaws.com) can make a code this function accepts, and
outside the account only the user pool the printed permission names may invoke the function. Cognito sends no
message id, so a replayed event is a resend of the number's pending verification (5 sends at
most), then the number's, the prefix's, the country's limits and the budget; Cognito passes
no end user's address, so no per-IP limit counts.

A refusal raises CognitoRefused: Cognito then fails the user's request (its
``UserLambdaValidationException`` or the trigger's error) and sends nothing itself."""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any, Callable

from chalicelib import twilio_v2 as wire  # its public face: TwilioError
from chalicelib.hooks import plain
from chalicelib.hooks.core import HookRefused, HookStarts

log = logging.getLogger("verify")
PLATFORM = "cognito"
# The trigger's sources (Cognito's "Custom SMS sender Lambda trigger sources") and the message
# each gets: always this service's verification template for the Service (rule 33), never a
# text of the pool's; what the source is for is in the log line and the verification's metadata.
SOURCES = {
    "CustomSMSSender_SignUp": "sign-up confirmation code",
    "CustomSMSSender_ResendCode": "sign-up confirmation code, again",
    "CustomSMSSender_ForgotPassword": "password reset code",
    "CustomSMSSender_UpdateUserAttribute": "phone number verification code",
    "CustomSMSSender_VerifyUserAttribute": "phone number verification code",
    "CustomSMSSender_Authentication": "sign-in (SMS OTP or MFA) code",
    # The pool's temporary password: sent only when it is code-shaped (4-10 letters or
    # digits, as v2's CustomCode); a pool's password policy usually asks for more.
    "CustomSMSSender_AdminCreateUser": "temporary password",
}
# A notice without a code: this service relays no text of the pool's, so it sends nothing.
NOTICES = frozenset({"CustomSMSSender_AccountTakeOverNotification"})
MAX_CIPHERTEXT = 8 * 1024  # Cognito's ciphertexts are well under 1 KiB
# Cognito waits 5 s for its trigger, then retries it (each retry a resend): the function's
# timeout is 5 s and its OTP_REQUEST_BUDGET_SECONDS 4 (.chalice/config.json), so its clients'
# timeouts are sized to answer (sent, refused, or out of time) before Cognito gives up.


class CognitoRefused(Exception):
    """The trigger's answer to Cognito when nothing was sent: the message names the reason,
    never the code, the number or the ciphertext."""


Decrypt = Callable[[bytes], bytes]


def send(hooks: HookStarts, event: Any, decrypt: Decrypt) -> dict[str, Any]:
    """Send the event's code to its user's number; returns what was done (for the log and tests)."""
    if not isinstance(event, dict):
        raise CognitoRefused("The event is not Cognito's CustomSMSSender event")
    source = event.get("triggerSource")
    if source in NOTICES:
        log.info("hook cognito %s: a notice without a code, nothing sent", source)
        return {"sent": False, "source": source}
    if source not in SOURCES:
        raise CognitoRefused("The event's triggerSource is not a CustomSMSSender source")
    request = event.get("request")
    attributes = request.get("userAttributes") if isinstance(request, dict) else None
    if not isinstance(request, dict) or not isinstance(attributes, dict):
        raise CognitoRefused("The event has no request.userAttributes")
    code = _decrypted(request.get("code"), decrypt)
    try:
        to, code = plain.number_and_code(attributes.get("phone_number"), code, "Cognito's event")
    except HookRefused as refused:
        raise CognitoRefused(refused.message) from None
    try:
        hooks.start(PLATFORM, to, code, locale=_locale(attributes.get("locale")))
    except wire.TwilioError as exc:
        log.warning("hook cognito %s refused: %s %s", source, exc.status, exc.message)
        raise CognitoRefused(f"Not sent ({exc.status}): {exc.message}") from None
    return {"sent": True, "source": source, "message": SOURCES[source]}


def _locale(raw: object) -> str | None:
    """The user's ``locale`` attribute (OpenID's: ``fr-FR``, ``fr_FR``, ``fr``) as v2's Locale;
    None (the start's default, English) when it is not a language tag."""
    from chalicelib.verify import valid_locale

    if not isinstance(raw, str):
        return None
    tag = raw.strip().replace("_", "-")
    return tag if 0 < len(tag) <= 16 and valid_locale(tag) else None


def _decrypted(code: object, decrypt: Decrypt) -> str:
    if not isinstance(code, str) or not code or len(code) > MAX_CIPHERTEXT:
        raise CognitoRefused("The event has no encrypted request.code")
    try:
        ciphertext = base64.b64decode(code, validate=True)
    except (binascii.Error, ValueError):
        raise CognitoRefused("request.code is not base64") from None
    plaintext = decrypt(ciphertext)
    try:
        return plaintext.decode("ascii")
    except UnicodeDecodeError:
        raise CognitoRefused("The decrypted code is not a code (4-10 ASCII letters or digits)") from None


class KmsDecrypter:
    """The AWS Encryption SDK's decrypt, strict to the one key: a ciphertext whose data key is
    under any other key is refused without a call to it. The SDK and its ``cryptography`` come
    from the function's layer, imported on the first event (never by the API's function)."""

    def __init__(self, key_id: str, kms: Callable[[], Any]) -> None:
        self._key_id = key_id
        self._kms = kms
        self._decrypt: Decrypt | None = None

    def __call__(self, ciphertext: bytes) -> bytes:
        if self._decrypt is None:
            self._decrypt = self._build()
        return self._decrypt(ciphertext)

    def _build(self) -> Decrypt:
        import aws_encryption_sdk
        from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
        from aws_encryption_sdk.identifiers import CommitmentPolicy

        # Strict mode names key ARNs: an alias (OTP_HOOK_COGNITO_KEY_ID's usual form) is resolved once.
        arn = self._key_id
        if not arn.startswith("arn:") or ":alias/" in arn:
            arn = self._kms().describe_key(KeyId=self._key_id)["KeyMetadata"]["Arn"]
        provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[arn])
        # The SDK logs a refused message's unread footer at ERROR with a traceback, after the
        # DecryptKeyError this turns into one warning: that second line says nothing more.
        logging.getLogger("aws_encryption_sdk.streaming_client").setLevel(logging.CRITICAL)
        # Cognito's ciphertexts may predate key commitment: decrypt them, encrypt nothing.
        client = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT, max_encrypted_data_keys=4)

        def decrypt(ciphertext: bytes) -> bytes:
            try:
                plaintext, _header = client.decrypt(source=ciphertext, key_provider=provider)
            except AWSEncryptionSDKClientError as exc:
                log.warning("hook cognito: the code does not decrypt under the stage's key (%s)",
                            type(exc).__name__)
                raise CognitoRefused("request.code is not encrypted under this trigger's key") from None
            return bytes(plaintext)

        return decrypt
