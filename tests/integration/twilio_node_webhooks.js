// twilio-node, unchanged: a Service's Webhooks created, listed, fetched, updated and deleted
// (test_twilio_sdks_webhooks.py runs it). Prints what it saw as one JSON object.
const twilio = require("twilio");
const { code } = require("./twilio_node_common");

const { API_URL, TWILIO_ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET, HOOK_URL } = process.env;

(async () => {
  const c = twilio(API_KEY_SID, API_KEY_SECRET, { accountSid: TWILIO_ACCOUNT_SID });
  c.verify.baseUrl = API_URL;
  const verify = c.verify.v2;
  const seen = {};
  const service = await verify.services.create({ friendlyName: "Node Hooks" });
  const other = await verify.services.create({ friendlyName: "Node Other" });
  const webhooks = verify.services(service.sid).webhooks;
  const made = await webhooks.create({ friendlyName: "backend", eventTypes: ["factor.verified", "challenge.approved"],
    webhookUrl: HOOK_URL });
  seen.created = [made.sid.slice(0, 2), made.serviceSid === service.sid, made.eventTypes, made.status, made.version,
    made.webhookMethod, made.webhookUrl === HOOK_URL];
  const updated = await webhooks(made.sid).update({ status: "disabled", version: "v1", eventTypes: ["*", "verification.*"] });
  seen.updated = [updated.status, updated.version, updated.eventTypes, updated.friendlyName];
  seen.listed = (await webhooks.list()).map((w) => w.sid === made.sid);
  seen.fetched = (await webhooks(made.sid).fetch()).url.endsWith(`/Webhooks/${made.sid}`);
  seen.bad_type = await code(webhooks.create({ friendlyName: "x", eventTypes: ["factor.updated"], webhookUrl: HOOK_URL }));
  seen.foreign = await code(verify.services(other.sid).webhooks(made.sid).fetch());
  seen.deleted = await webhooks(made.sid).remove();
  seen.gone = await code(webhooks(made.sid).fetch());
  process.stdout.write(JSON.stringify(seen));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
