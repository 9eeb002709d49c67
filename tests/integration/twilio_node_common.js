// What the twilio-node flows (twilio_node_*.js) share: the code the console provider printed
// to the server's log, and the Twilio error code a call that must fail failed with.
const fs = require("fs");
const assert = require("assert");

// The last code of `length` digits printed for `to` in the server's log (SERVER_LOG).
function lastCode(to, length = 6) {
  const text = fs.readFileSync(process.env.SERVER_LOG, "utf8");
  const escaped = to.replace("+", "\\+");
  const re = new RegExp(`\\[console SMS to ${escaped}\\][^\\n]*\\n[^\\n]*?\\b([0-9]{${length}})\\b`, "g");
  const codes = [...text.matchAll(re)].map((m) => m[1]);
  assert(codes.length > 0, `no SMS to ${to}`);
  return codes[codes.length - 1];
}

// The Twilio error code (RestException.code) of a call that must fail.
async function code(promise) {
  try {
    await promise;
  } catch (err) {
    return err.code;
  }
  throw new Error("expected an error");
}

module.exports = { lastCode, code };
