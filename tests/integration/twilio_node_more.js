// twilio-node, unchanged: a second Service kept apart, a TOTP factor enrolled and a challenge
// approved, Attempts listed and summarised, a revoked key refused (test_twilio_sdks.py runs it
// against a server with KMS and OTP_ATTEMPTS=true). Prints what it saw as one JSON object.
const twilio = require("twilio");
const { lastCode, code } = require("./twilio_node_common");
const { totp } = require("./twilio_node_otp");

const { API_URL, TO, TWILIO_ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET, REVOKED_SID, REVOKED_SECRET } =
  process.env;

function client(sid, secret) {
  const c = twilio(sid, secret, { accountSid: TWILIO_ACCOUNT_SID });
  c.verify.baseUrl = API_URL;
  return c;
}

(async () => {
  const verify = client(API_KEY_SID, API_KEY_SECRET).verify.v2;
  const seen = {};
  const first = await verify.services.create({ friendlyName: "Node First" });
  const second = await verify.services.create({ friendlyName: "Node Second" });
  const started = await verify.services(first.sid).verifications.create({ to: TO, channel: "sms" });
  const right = lastCode(TO);
  await verify.services(second.sid).verifications.create({ to: TO, channel: "sms" });
  seen.foreign = await code(verify.services(second.sid).verifications(started.sid).fetch());
  seen.first_still_checks = (await verify.services(first.sid).verificationChecks.create({ to: TO, code: right })).status;

  const entity = verify.services(first.sid).entities("node-user-0001");
  const factor = await entity.newFactors.create({ friendlyName: "Node phone", factorType: "totp" });
  const now = Date.now() / 1000;
  seen.factor = (await entity.factors(factor.sid).update({ authPayload: totp(factor.binding.secret, now) })).status;
  const challenge = await entity.challenges.create({ factorSid: factor.sid, authPayload: totp(factor.binding.secret, now + 30) });
  seen.challenge = challenge.status;

  const attempts = await verify.verificationAttempts.list({ verifyServiceSid: first.sid });
  seen.attempts = attempts.map((a) => a.conversionStatus);
  const summary = await verify.verificationAttemptsSummary().fetch({ verifyServiceSid: first.sid });
  seen.summary = [summary.totalAttempts, summary.totalConverted, summary.conversionRatePercentage];
  seen.revoked = await code(client(REVOKED_SID, REVOKED_SECRET).verify.v2.services.create({ friendlyName: "x" }));
  process.stdout.write(JSON.stringify(seen));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
