// Receiver for the webhook provider: check the Standard Webhooks signature, then send.
const http = require("node:http");
const crypto = require("node:crypto");
const key = Buffer.from(process.env.WEBHOOK_SECRET.replace(/^whsec_/, ""), "base64");

function verified(headers, body) { // body: the raw bytes, before any JSON parsing
  const id = headers["webhook-id"] || "", ts = headers["webhook-timestamp"] || "";
  if (!/^[0-9]+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return null;
  const mac = crypto.createHmac("sha256", key).update(`${id}.${ts}.`).update(body).digest("base64");
  const expected = Buffer.from(`v1,${mac}`);
  const ok = (headers["webhook-signature"] || "").split(" ").map((s) => Buffer.from(s))
    .some((s) => s.length === expected.length && crypto.timingSafeEqual(s, expected));
  return ok ? JSON.parse(body) : null; // {type, to, locale, text, code, verification_id}
}

async function sendWithYourGateway(to, text) { throw new Error("send `text` to `to`, return its id"); }

if (require.main === module) http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c)).on("end", async () => {
    const message = verified(req.headers, Buffer.concat(chunks));
    if (!message) return res.writeHead(401).end();
    const messageId = await sendWithYourGateway(message.to, message.text);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ message_id: messageId }));
  });
}).listen(Number(process.env.PORT || 8080), "127.0.0.1");
module.exports = { verified };
