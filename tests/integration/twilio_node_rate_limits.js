// twilio-node, unchanged: a Service's Rate Limits and Buckets created, listed, fetched, updated
// and deleted, and their effect on starts (test_twilio_sdks_rate_limits.py runs it). Prints
// what it saw as one JSON object.
const twilio = require("twilio");
const { code } = require("./twilio_node_common");

const { API_URL, TWILIO_ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET, TO1, TO2, TO3, TO4 } = process.env;

(async () => {
  const c = twilio(API_KEY_SID, API_KEY_SECRET, { accountSid: TWILIO_ACCOUNT_SID });
  c.verify.baseUrl = API_URL;
  const verify = c.verify.v2;
  const seen = {};
  const service = await verify.services.create({ friendlyName: "Node Limits" });
  const other = await verify.services.create({ friendlyName: "Node Other" });
  const limits = verify.services(service.sid).rateLimits;
  const limit = await limits.create({ uniqueName: "end_user_ip_address", description: "Per IP" });
  seen.created = [limit.sid.slice(0, 2), limit.uniqueName, limit.description];
  seen.updated = (await limits(limit.sid).update({ description: "Per end user IP" })).description;
  seen.listed = (await limits.list()).map((r) => r.uniqueName);
  seen.fetched = (await limits(limit.sid).fetch()).links.buckets.endsWith(`/RateLimits/${limit.sid}/Buckets`);
  const buckets = limits(limit.sid).buckets;
  const bucket = await buckets.create({ max: 5, interval: 60 });
  seen.bucket = [bucket.sid.slice(0, 2), bucket.rateLimitSid === limit.sid, bucket.max, bucket.interval];
  seen.bucket_updated = (await buckets(bucket.sid).update({ max: 2 })).max;
  seen.buckets = (await buckets.list()).map((b) => [b.max, b.interval]);
  seen.bucket_fetched = (await buckets(bucket.sid).fetch()).interval;
  seen.duplicate = await code(limits.create({ uniqueName: "end_user_ip_address" }));

  const start = (to, key) => verify.services(service.sid).verifications.create({
    to, channel: "sms", rateLimits: { end_user_ip_address: key } });
  seen.starts = [(await start(TO1, "203.0.113.7")).status, (await start(TO2, "203.0.113.7")).status];
  seen.third = await code(start(TO3, "203.0.113.7"));
  seen.other_key = (await start(TO3, "198.51.100.1")).status;
  seen.foreign = await code(verify.services(other.sid).rateLimits(limit.sid).fetch());
  seen.unknown_name = await code(verify.services(other.sid).verifications.create({
    to: TO4, channel: "sms", rateLimits: { end_user_ip_address: "x" } }));

  seen.bucket_deleted = await buckets(bucket.sid).remove();
  seen.deleted = await limits(limit.sid).remove();
  seen.gone = await code(limits(limit.sid).fetch());
  process.stdout.write(JSON.stringify(seen));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
