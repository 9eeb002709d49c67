// twilio-node, unchanged: every TOTP operation of Twilio's document (issue 29), as
// test_twilio_python_drives_every_totp_resource does with twilio-python: an entity created,
// fetched and listed before it has a factor; a factor created and verified; a challenge created
// without AuthPayload (pending), fetched, listed and approved by its update's AuthPayload; the
// entity deleted with its factors. test_twilio_sdks.py runs it against a server with KMS.
// Prints what it saw as one JSON object.
const twilio = require("twilio");
const { totp } = require("./twilio_node_otp");

const { API_URL, TWILIO_ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET, IDENTITY } = process.env;

function client(sid, secret) {
  const c = twilio(sid, secret, { accountSid: TWILIO_ACCOUNT_SID });
  c.verify.baseUrl = API_URL;
  return c;
}

async function code(promise) {
  try {
    await promise;
  } catch (err) {
    return [err.status, err.code];
  }
  throw new Error("expected an error");
}

(async () => {
  const verify = client(API_KEY_SID, API_KEY_SECRET).verify.v2;
  const seen = {};
  const service = verify.services((await verify.services.create({ friendlyName: "Node Entities" })).sid);
  const created = await service.entities.create({ identity: IDENTITY });
  const user = service.entities(IDENTITY);
  seen.fetched = (await user.fetch()).sid === created.sid; // no factor yet
  seen.listed = (await service.entities.list()).map((e) => e.identity);

  const factor = await user.newFactors.create({ friendlyName: "Node phone", factorType: "totp" });
  seen.new_factor = factor.status;
  const now = Date.now() / 1000;
  seen.factor = (await user.factors(factor.sid).update({ authPayload: totp(factor.binding.secret, now) })).status;

  const challenge = await user.challenges.create({ factorSid: factor.sid });
  seen.challenge = [challenge.status, challenge.sid.length];
  seen.challenge_fetched = (await user.challenges(challenge.sid).fetch()).status;
  seen.pending = (await user.challenges.list({ factorSid: factor.sid, status: "pending" })).map((c) => c.sid === challenge.sid);
  // The confirming code is used; the next step's code is inside the window (OTP_TOTP_WINDOW=1).
  const approved = await user.challenges(challenge.sid).update({ authPayload: totp(factor.binding.secret, now + 30) });
  seen.approved = approved.status;
  seen.challenges = (await user.challenges.list()).map((c) => c.status);

  seen.removed = await user.remove();
  seen.gone = await code(user.fetch());
  seen.factor_gone = await code(user.factors(factor.sid).fetch());
  seen.listed_after = (await service.entities.list()).map((e) => e.identity);
  process.stdout.write(JSON.stringify(seen));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
