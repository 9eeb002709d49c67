"""Email through Amazon SES v2 ``SendEmail`` (docs/channels.md), through boto3.

Settings: SES_FROM (the From address, on a verified identity: the policy grants
``ses:SendEmail`` on that identity only) and SES_CONFIGURATION_SET (its event destination, an
SNS topic, brings bounces and complaints back: chalicelib/delivery/callbacks/ses.py). Each send carries
its send reference as the message tag ``verify_ref``, which SES copies into every event of the
message (``mail.tags``), so an event finds its send without a lookup.

Errors (SES API v2 reference, SendEmail, "Errors":
docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html): none of them is about the
destination address. An address that does not exist or is on the suppression list is accepted
and answered later by a Bounce event. So every failure is this account's (suspended, sending
paused, identity or MAIL FROM not verified, the sandbox's MessageRejected, quotas, throttling,
a missing configuration set) or transient: fail over to the next email provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.channels.providers import ProviderError, SmsProvider, aws_transport_error

if TYPE_CHECKING:
    from chalicelib.channels.channel_messages import EmailMessage
    from chalicelib.delivery import DeliveryReport
    from chalicelib.channels.email_address import EmailAddress

REFERENCE_TAG = "verify_ref"  # SES tag names: ASCII letters, digits, _ and -, at most 256


class SesProvider(SmsProvider):
    name = "ses"
    delivery_reports = True  # tags each send with its reference (chalicelib/delivery/tracker.py)

    def send_email(
        self, to: EmailAddress, message: EmailMessage, report: DeliveryReport | None = None
    ) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        params: dict[str, Any] = {
            "FromEmailAddress": self.context.required("from"),
            "Destination": {"ToAddresses": [to.ascii_address]},
            "Content": {"Simple": {
                "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": message.text, "Charset": "UTF-8"},
                    "Html": {"Data": message.html, "Charset": "UTF-8"},
                },
            }},
            "ConfigurationSetName": self.context.required("configuration_set"),
        }
        if report is not None:
            params["EmailTags"] = [{"Name": REFERENCE_TAG, "Value": report.reference}]
        try:
            return str(self.context.aws_client("sesv2").send_email(**params)["MessageId"])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise ProviderError(self.name, permanent=False, detail=str(code)) from None
        except BotoCoreError as exc:  # after SES took the request, the email may be on its way
            raise aws_transport_error(self.name, exc) from None
