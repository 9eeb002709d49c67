// twilio-node, unchanged: the Safe List (and its effect on a suspended prefix), a Service's
// Messaging Configurations and the Templates (test_twilio_sdks_service_resources.py runs it).
// Prints what it saw as one JSON object.
const twilio = require("twilio");
const { code } = require("./twilio_node_common");

const { API_URL, TWILIO_ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET, NUMBERS, MG, TO, TEMPLATE_TO } = process.env;

async function templates(verify) {
  const seen = {};
  const listed = await verify.templates.list();
  seen.names = listed.map((t) => t.friendlyName);
  const login = listed[1];
  seen.sid = login.sid.startsWith("HJ") && login.sid.length === 34;
  seen.filtered = (await verify.templates.list({ friendlyName: "Acme login" })).length;
  const service = await verify.services.create({ friendlyName: "Acme" });
  seen.started = (await verify.services(service.sid).verifications.create({
    to: TEMPLATE_TO, channel: "sms", templateSid: login.sid })).status;
  return seen;
}

async function messaging(verify) {
  const seen = {};
  const service = await verify.services.create({ friendlyName: "Node Senders" });
  const configurations = verify.services(service.sid).messagingConfigurations;
  const made = await configurations.create({ country: "US", messagingServiceSid: MG });
  seen.created = [made.country, made.messagingServiceSid];
  await configurations.create({ country: "all", messagingServiceSid: MG });
  seen.listed = (await configurations.list()).map((c) => c.country);
  seen.fetched = (await configurations("US").fetch()).messagingServiceSid;
  seen.updated = (await configurations("US").update({ messagingServiceSid: MG })).messagingServiceSid;
  seen.duplicate = await code(configurations.create({ country: "US", messagingServiceSid: MG }));
  seen.bad_sid = await code(configurations.create({ country: "IN", messagingServiceSid: "MG" + "0".repeat(32) }));
  seen.started = (await verify.services(service.sid).verifications.create({ to: TO, channel: "sms" })).status;
  seen.deleted = await configurations("US").remove();
  seen.gone = await code(configurations("US").fetch());
  return seen;
}

async function safeList(verify, numbers) {
  const seen = {};
  const [safe, neighbour] = [numbers[6], numbers[7]];
  const added = await verify.safelist.create({ phoneNumber: safe });
  seen.added = [added.sid.slice(0, 2), added.sid.length, added.phoneNumber];
  seen.fetched = (await verify.safelist(safe).fetch()).sid === added.sid;
  seen.twice = await code(verify.safelist.create({ phoneNumber: safe }));
  const service = await verify.services.create({ friendlyName: "Node Safe" });
  const start = (to) => verify.services(service.sid).verifications.create({ to, channel: "sms" });
  seen.starts = [];
  for (const to of numbers.slice(0, 3)) seen.starts.push((await start(to)).status);
  seen.refused = [await code(start(numbers[3])), await code(start(neighbour))];
  seen.safe = (await start(safe)).status;
  seen.removed = await verify.safelist(safe).remove();
  seen.gone = await code(verify.safelist(safe).fetch());
  return seen;
}

(async () => {
  const c = twilio(API_KEY_SID, API_KEY_SECRET, { accountSid: TWILIO_ACCOUNT_SID });
  c.verify.baseUrl = API_URL;
  const verify = c.verify.v2;
  const seen = {};
  seen.safe_list = await safeList(verify, NUMBERS.split(","));
  seen.messaging = await messaging(verify);
  seen.templates = await templates(verify);
  process.stdout.write(JSON.stringify(seen));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
