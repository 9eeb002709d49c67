// twilio-node, unchanged, with the account SID and its auth token (twilio(accountSid, authToken),
// as most apps and Twilio's quickstarts hold it): a start and a check, and a wrong token.
// tests/integration/test_twilio_sdks.py runs it; prints what it saw as one JSON object.
const assert = require("assert");
const twilio = require("twilio");
const { lastCode } = require("./twilio_node_common");

const { API_URL, TO, TWILIO_ACCOUNT_SID, AUTH_TOKEN } = process.env;

function client(token) {
  const c = twilio(TWILIO_ACCOUNT_SID, token);
  c.verify.baseUrl = API_URL;
  return c;
}

(async () => {
  const verify = client(AUTH_TOKEN).verify.v2;
  const seen = {};
  const service = await verify.services.create({ friendlyName: "Node Token App" });
  seen.created = (await verify.services(service.sid).verifications.create({ to: TO, channel: "sms" })).status;
  const hit = await verify.services(service.sid).verificationChecks.create({ to: TO, code: lastCode(TO) });
  seen.right = [hit.valid, hit.status];
  try {
    await client("0".repeat(32)).verify.v2.services.list();
  } catch (err) {
    seen.bad_token = err.code;
    assert(!String(err.message).includes(AUTH_TOKEN), "the error repeats the token");
  }
  process.stdout.write(JSON.stringify(seen));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
