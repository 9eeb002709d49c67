// Runs docs/examples/better-auth-phone-number.mjs, unchanged, in Better Auth (better-auth from
// npm, unchanged; its memory adapter as the database) against this service through twilio-node:
// sign-in by phone number (sendPhoneNumberOTP, then verifyPhoneNumber with a wrong code and the
// code the SMS carried), then a password reset (requestPasswordResetPhoneNumber, then
// resetPasswordPhoneNumber). Prints what it saw as one JSON object
// (tests/integration/test_identity_platforms.py). Run with --import ./node_path_imports.mjs.
import { createRequire } from "node:module";
import twilio from "twilio";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";

const require = createRequire(import.meta.url);
const { lastCode } = require("./twilio_node_common.js");
const { API_URL, TO, TWILIO_ACCOUNT_SID, API_KEY_SID, API_KEY_SECRET } = process.env;

const failure = async (promise) => {
  try {
    await promise;
  } catch (err) {
    return err.body?.code || err.status || String(err);
  }
  return "no error";
};

const client = twilio(API_KEY_SID, API_KEY_SECRET, { accountSid: TWILIO_ACCOUNT_SID });
client.verify.baseUrl = API_URL;
const made = await client.verify.v2.services.create({ friendlyName: "Better Auth App" });
Object.assign(process.env, { ACCOUNT_SID: TWILIO_ACCOUNT_SID, SERVICE_SID: made.sid, VERIFY_BASE_URL: API_URL });
const { phoneNumberPlugin } = await import("../../docs/examples/better-auth-phone-number.mjs");

const auth = betterAuth({
  database: memoryAdapter({ user: [], session: [], account: [], verification: [] }),
  secret: "better-auth-test-secret-0123456789abcdef",
  baseURL: "http://127.0.0.1:3000",
  emailAndPassword: { enabled: true },
  telemetry: { enabled: false },
  plugins: [phoneNumberPlugin],
});

await auth.api.sendPhoneNumberOTP({ body: { phoneNumber: TO } });
const sent = lastCode(TO);
const wrong = await failure(auth.api.verifyPhoneNumber({
  body: { phoneNumber: TO, code: String((Number(sent) + 1) % 1e6).padStart(6, "0") } }));
const signedIn = await auth.api.verifyPhoneNumber({ body: { phoneNumber: TO, code: sent } });
const again = await failure(auth.api.verifyPhoneNumber({ body: { phoneNumber: TO, code: sent } }));

await auth.api.requestPasswordResetPhoneNumber({ body: { phoneNumber: TO } });
const resetCode = lastCode(TO);
const reset = await auth.api.resetPasswordPhoneNumber({
  body: { phoneNumber: TO, otp: resetCode, newPassword: "a new password, long enough" } });

console.log(JSON.stringify({
  wrong, status: signedIn.status, verified: signedIn.user.phoneNumberVerified, token: Boolean(signedIn.token),
  again, new_code_for_reset: resetCode !== sent, reset: reset.status,
}));
