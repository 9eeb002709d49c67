// twilio-node, unchanged, against this service (tests/integration/test_twilio_sdks.py runs it).
// The client is pointed at us as README shows: client.verify.baseUrl (lib/base/Domain.js joins
// it with the /v2/... path). Prints what it saw as one JSON object; any surprise exits non-zero.
const twilio = require("twilio");
const { lastCode, code } = require("./twilio_node_common");

const { API_URL, TO, TWILIO_ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET } = process.env;

function client(secret) {
  const c = twilio(API_KEY_SID, secret, { accountSid: TWILIO_ACCOUNT_SID });
  c.verify.baseUrl = API_URL;
  return c;
}

(async () => {
  const verify = client(API_KEY_SECRET).verify.v2;
  const seen = {};
  const service = await verify.services.create({ friendlyName: "Node App", codeLength: 7 });
  const started = await verify.services(service.sid).verifications.create({ to: TO, channel: "sms" });
  seen.created = started.status;
  const right = lastCode(TO, 7);
  const wrong = String((Number(right) + 1) % 1e7).padStart(7, "0");
  const miss = await verify.services(service.sid).verificationChecks.create({ to: TO, code: wrong });
  seen.wrong = [miss.valid, miss.status];
  const hit = await verify.services(service.sid).verificationChecks.create({ verificationSid: started.sid, code: right });
  seen.right = [hit.valid, hit.status];
  seen.fetched = await code(verify.services(service.sid).verifications(started.sid).fetch());

  const again = await verify.services(service.sid).verifications.create({ to: TO, channel: "sms" });
  seen.canceled = (await verify.services(service.sid).verifications(again.sid).update({ status: "canceled" })).status;

  await verify.services(service.sid).verifications.create({ to: TO, channel: "sms" });
  const guess = String((Number(lastCode(TO, 7)) + 1) % 1e7).padStart(7, "0");
  for (let i = 0; i < 5; i++) {
    await verify.services(service.sid).verificationChecks.create({ to: TO, code: guess });
  }
  seen.max_attempts = await code(verify.services(service.sid).verificationChecks.create({ to: TO, code: guess }));
  seen.bad_key = await code(client("x".repeat(40)).verify.v2.services.list());
  process.stdout.write(JSON.stringify(seen));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
