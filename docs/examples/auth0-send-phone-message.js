// Trigger: send-phone-message. Secrets: ACCOUNT_SID (make auth-token prints it), API_KEY_SID,
// API_KEY_SECRET, SERVICE_SID, BASE_URL. Dependency: twilio@5.
const twilio = require("twilio");
exports.onExecuteSendPhoneMessage = async (event) => {
  const s = event.secrets;
  const client = twilio(s.API_KEY_SID, s.API_KEY_SECRET, { accountSid: s.ACCOUNT_SID });
  client.verify.baseUrl = s.BASE_URL;  // https://<api-id>.execute-api.<region>.amazonaws.com/api
  const { recipient, code, message_type } = event.message_options;
  await client.verify.v2.services(s.SERVICE_SID).verifications.create({
    to: recipient, channel: message_type === "voice" ? "call" : "sms", customCode: code });
};
