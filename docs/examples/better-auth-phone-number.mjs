// Better Auth's phoneNumber plugin with this service owning the code: sendOTP starts a
// verification, verifyOTP checks it (Better Auth's own code is never sent). Environment:
// ACCOUNT_SID (make auth-token prints it), API_KEY_SID, API_KEY_SECRET, SERVICE_SID,
// VERIFY_BASE_URL. Dependencies: better-auth@1.7, twilio@5.
import twilio from "twilio";
import { phoneNumber } from "better-auth/plugins";

const env = process.env;
const client = twilio(env.API_KEY_SID, env.API_KEY_SECRET, { accountSid: env.ACCOUNT_SID });
client.verify.baseUrl = env.VERIFY_BASE_URL; // https://<api-id>.execute-api.<region>.amazonaws.com/api
const service = client.verify.v2.services(env.SERVICE_SID);
const start = async ({ phoneNumber }) => {
  await service.verifications.create({ to: phoneNumber, channel: "sms" });
};

export const phoneNumberPlugin = phoneNumber({
  sendOTP: start,
  sendPasswordResetOTP: start, // reset-password's otp goes to verifyOTP too (better-auth 1.7)
  verifyOTP: async ({ phoneNumber, code }) => {
    try {
      return (await service.verificationChecks.create({ to: phoneNumber, code })).status === "approved";
    } catch (err) {
      // 404 (20404): nothing pending, approved or expired already; 429 (60202): too many guesses.
      if (err.status === 404 || err.status === 429) return false;
      throw err;
    }
  },
  signUpOnVerification: { getTempEmail: (phone) => `${phone.slice(1)}@phone.invalid` },
});
