// twilio-node, unchanged, naming a verification by its number (tests/integration/test_twilio_sdks.py
// runs it): Twilio's api-snippets approve by phone number (verify/verifications/approve-verification,
// approve-verification.5.x.js: verifications("+15017122661").update({ status: "approved" })).
// twilio-node puts the number in the path as given (lib/rest/verify/v2/service/verification.js).
const assert = require("assert");
const twilio = require("twilio");
const { code } = require("./twilio_node_common");

const { API_URL, TO, TWILIO_ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET } = process.env;

(async () => {
  const client = twilio(API_KEY_SID, API_KEY_SECRET, { accountSid: TWILIO_ACCOUNT_SID });
  client.verify.baseUrl = API_URL;
  const verify = client.verify.v2;
  const seen = {};
  const service = await verify.services.create({ friendlyName: "Node ByNumber" });
  const other = await verify.services.create({ friendlyName: "Node Elsewhere" });
  const started = await verify.services(service.sid).verifications.create({ to: TO, channel: "sms" });
  const fetched = await verify.services(service.sid).verifications(TO).fetch();
  seen.fetched = fetched.status;
  seen.same_sid = fetched.sid === started.sid;
  seen.foreign = await code(verify.services(other.sid).verifications(TO).update({ status: "canceled" }));
  const miss = await verify.services(service.sid).verificationChecks.create({ to: TO, code: "12345678" });
  seen.short_code = [miss.valid, miss.status];
  seen.approved = (await verify.services(service.sid).verifications(TO).update({ status: "approved" })).status;
  const again = await verify.services(service.sid).verifications.create({ to: TO, channel: "sms" });
  const canceled = await verify.services(service.sid).verifications(TO).update({ status: "canceled" });
  assert.strictEqual(canceled.sid, again.sid);
  seen.canceled = canceled.status;
  seen.gone = await code(verify.services(service.sid).verifications(TO).fetch());
  process.stdout.write(JSON.stringify(seen));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
