"""The domain's errors. Each carries its stable contract code and HTTP status;
``app.py`` turns them into responses in one place (``error_response``)."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the variable. Not a
    client error: app.py answers it with a 500. Here, not in config.py, so that the providers
    (which config.py imports for their registry) can raise it without importing config.py."""


class ServiceError(Exception):
    """Base of every error the API reports to a client."""

    status = 500
    code = "internal_error"
    message = "Something went wrong on our side."

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.extra = extra

    @property
    def retry_after(self) -> int | None:
        value = self.extra.get("retry_after")
        return int(value) if value is not None else None

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


class InvalidRequest(ServiceError):
    status, code = 400, "invalid_request"
    message = "The request body is not valid."


class InvalidPhoneNumber(ServiceError):
    status, code = 400, "invalid_phone_number"
    message = "The phone number is not valid."


class InvalidEmailAddress(ServiceError):
    status, code = 400, "invalid_email_address"
    message = "The email address is not valid."


class UnsupportedNumberType(ServiceError):
    status, code = 400, "unsupported_number_type"
    message = "This type of phone number cannot receive verification codes."


class UnsupportedChannel(ServiceError):
    status, code = 400, "unsupported_channel"
    message = "This channel is not supported."


class InvalidCodeFormat(ServiceError):
    status, code = 400, "invalid_code_format"
    message = "The code must be a string of digits."


class IncorrectCode(ServiceError):
    status, code = 403, "incorrect_code"
    message = "The code is incorrect."
    # The verification as the wrong guess left it (the v2 dialect answers with it); not in body().
    verification: Any = None


class VerificationNotFound(ServiceError):
    status, code = 404, "verification_not_found"
    message = "No pending verification was found."


class NotPending(ServiceError):
    status, code = 409, "not_pending"
    message = "The verification is no longer pending."


class ResendTooSoon(ServiceError):
    status, code = 429, "resend_too_soon"
    message = "A code was sent moments ago; wait before asking for another."


class TooManySends(ServiceError):
    status, code = 429, "too_many_sends"
    message = "Too many codes were sent for this verification; wait for it to expire."


class TooManySendsToNumber(TooManySends):
    """The number's send window (OTP_MAX_SENDS_PER_NUMBER_PER_WINDOW) is used up, across its
    verifications: the same code as TooManySends (v2: 60203), with a Retry-After at its end."""

    message = "Too many codes were sent to this number; try again later."


class MaxAttemptsReached(ServiceError):
    status, code = 429, "max_attempts_reached"
    message = "Too many incorrect codes; wait for the verification to expire."


class DeliveryFailed(ServiceError):
    status, code = 502, "delivery_failed"
    message = "The code could not be sent. Try again."


class UnsupportedMediaType(ServiceError):
    status, code = 415, "unsupported_media_type"
    message = "Send the request body as JSON with Content-Type: application/json."


class OriginNotAllowed(ServiceError):
    status, code = 403, "origin_not_allowed"
    message = "Requests from this web origin are not allowed."


class NotFound(ServiceError):
    status, code = 404, "not_found"
    message = "No such resource."


class ServiceUnavailable(ServiceError):
    status, code = 503, "service_unavailable"
    message = "The service is briefly unavailable. Try again."


class UndeliverableNumber(ServiceError):
    status, code = 422, "undeliverable_number"
    message = "This number cannot receive the code (blocked, unsubscribed or unreachable)."


class InvalidCallbackSignature(ServiceError):
    status, code = 403, "invalid_signature"
    message = "The callback is not signed by the provider."


class PayloadTooLarge(ServiceError):
    status, code = 413, "payload_too_large"
    message = "The request body is too large."


class CountryNotAllowed(ServiceError):
    status, code = 403, "country_not_allowed"
    message = "Verification codes cannot be sent to this country."


class LimitExceeded(ServiceError):
    """A rate limit or budget: always 429 with retry_after (and a Retry-After header)."""

    status = 429


class TooManyVerifications(LimitExceeded):
    code = "too_many_verifications"
    message = "Too many verifications were started for this number today."


class TooManyChecks(LimitExceeded):
    code = "too_many_checks"
    message = "Too many codes were checked for this number today."


class IpRateLimited(LimitExceeded):
    code = "ip_rate_limited"
    message = "Too many verification requests from this network. Try again later."


class IpCheckRateLimited(LimitExceeded):
    code = "ip_check_rate_limited"
    message = "Too many code checks from this network. Try again later."


class PrefixRateLimited(LimitExceeded):
    code = "prefix_rate_limited"
    message = "Too many codes were sent to numbers like this one. Try again later."


class CountryRateLimited(LimitExceeded):
    code = "country_rate_limited"
    message = "Too many codes were sent to this country. Try again later."


class PrefixSuspended(LimitExceeded):
    code = "prefix_suspended"
    message = "Sending to numbers like this one is paused after unusual activity. Try again later."


class CountrySuspended(LimitExceeded):
    code = "country_suspended"
    message = "Sending to this country is paused after unusual activity. Try again later."


class RateLimitExceeded(LimitExceeded):
    """A bucket of a v2 Service's own Rate Limits refused the start (chalicelib/verify/rate_buckets.py):
    v2 answers Twilio's 20429, whose page names "Exceeding Verify Service Rate Limits that you
    configure" as a cause (https://www.twilio.com/docs/api/errors/20429). v1 has no such limits."""

    code = "rate_limit_exceeded"
    message = "Too many requests: a Rate Limit of this Service was exceeded for the key given."


class SendBudgetExhausted(LimitExceeded):
    code = "send_budget_exhausted"
    message = "The service has reached its sending budget for now. Try again later."


class FactorNotFound(ServiceError):
    status, code = 404, "factor_not_found"
    message = "No such authenticator factor (or none verified for this identity)."


class TooManyFactors(ServiceError):
    status, code = 409, "too_many_factors"
    message = "This identity has the most authenticator factors allowed; delete one first."


class FactorAlreadyVerified(ServiceError):
    status, code = 409, "factor_already_verified"
    message = "This factor is already verified."


class TotpRetryLater(MaxAttemptsReached):
    """Growing delays after wrong authenticator codes (chalicelib/totp/limits.py)."""

    message = "Too many incorrect authenticator codes in a row; try again after Retry-After seconds."


class FactorSuspended(ServiceError):
    status, code = 403, "factor_suspended"
    message = ("This authenticator is suspended after too many incorrect codes; the app's server can "
               "re-enable it, or the user can enroll it again.")
