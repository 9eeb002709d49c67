// Runs docs/examples/auth0-send-phone-message.js, unchanged, as Auth0 runs a send-phone-message
// Action (event.secrets, event.message_options: recipient, code, message_type; Auth0's
// "send-phone-message event object" page), against this service through twilio-node. Prints
// what it saw as one JSON object (tests/integration/test_identity_platforms.py).
const twilio = require("twilio");
const path = require("path");
const { lastCode } = require("./twilio_node_common");

const { API_URL, TO, TWILIO_ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET } = process.env;

(async () => {
  const client = twilio(API_KEY_SID, API_KEY_SECRET, { accountSid: TWILIO_ACCOUNT_SID });
  client.verify.baseUrl = API_URL;
  const service = await client.verify.v2.services.create({ friendlyName: "Auth0 App", customCodeEnabled: true });
  const action = require(path.join(__dirname, "..", "..", "docs", "examples", "auth0-send-phone-message.js"));
  const secrets = { ACCOUNT_SID: TWILIO_ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET, SERVICE_SID: service.sid,
                    BASE_URL: API_URL };
  await action.onExecuteSendPhoneMessage({ secrets, message_options: {
    action: "enrollment", code: "904417", message_type: "sms", recipient: TO, text: "ignored" } });
  const sent = lastCode(TO, 6);
  const check = await client.verify.v2.services(service.sid).verificationChecks.create({ to: TO, code: sent });
  console.log(JSON.stringify({ custom_code_enabled: service.customCodeEnabled, sent, check: check.status }));
})().catch((err) => { console.error(err); process.exit(1); });
