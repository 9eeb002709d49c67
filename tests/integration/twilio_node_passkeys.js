// twilio-node, unchanged: Twilio's four Passkeys routes (issue 34), with a software
// authenticator on the other end of a pipe: this script prints each ceremony's options as one
// JSON line and reads the authenticator's answer (create()'s or get()'s toJSON()) as the next
// line of its stdin (test_twilio_sdks_passkeys.py writes them). Prints what it saw last.
const readline = require("readline");
const twilio = require("twilio");

const { API_URL, TWILIO_ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET, RP_ID, ORIGIN } = process.env;

async function code(promise) {
  try {
    await promise;
  } catch (err) {
    return [err.status, err.code];
  }
  throw new Error("expected an error");
}

(async () => {
  const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const ask = async (options) => {
    process.stdout.write(JSON.stringify(options) + "\n");
    return JSON.parse((await lines.next()).value);
  };
  const c = twilio(API_KEY_SID, API_KEY_SECRET, { accountSid: TWILIO_ACCOUNT_SID });
  c.verify.baseUrl = API_URL;
  const verify = c.verify.v2;
  const seen = {};
  const created = await verify.services.create({
    friendlyName: "Node Passkeys", "passkeys.relyingParty.id": RP_ID, "passkeys.relyingParty.origins": ORIGIN,
  });
  seen.service = created.passkeys.relying_party.id;
  const service = verify.services(created.sid);
  const factor = await service.newFactors.create({ friendly_name: "Node laptop", identity: "node-passkey-1" });
  seen.factor = [factor.status, factor.factorType];
  const verified = await service.newVerifyFactors.update(await ask(factor.options.publicKey));
  seen.verified = verified.status;
  const challenge = await service.newChallenge().create({ identity: "node-passkey-1" }); // a context, as generated
  const assertion = await ask(challenge.options.publicKey);
  const approved = await service.approveChallenge.update(assertion);
  seen.approved = [approved.status, approved.sid === challenge.sid, approved.factorSid === factor.sid];
  seen.replayed = await code(service.approveChallenge.update(assertion));
  process.stdout.write(JSON.stringify(seen) + "\n");
  process.exit(0);
})().catch((err) => {
  process.stderr.write(String(err && err.stack) + "\n");
  process.exit(1);
});
