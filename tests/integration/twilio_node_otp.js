// The TOTP code a user's authenticator app would show, for the twilio-node flows
// (twilio_node_more.js, twilio_node_totp.js): RFC 6238 (SHA-1, 6 digits, 30 s) over the
// RFC 4648 base32 secret a factor's binding gives, with node's own crypto.
const crypto = require("crypto");

function totp(secret, at) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secret.replace(/=+$/, "")) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30)));
  const mac = crypto.createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1e6).padStart(6, "0");
}

module.exports = { totp };
