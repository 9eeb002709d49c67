// The verification page: two steps on one page, talking to the JSON API (/v1/...).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const codeLength = Number(document.body.dataset.codeLength || 6);
  const phoneStep = $("phone-step"), codeStep = $("code-step"), done = $("done");
  const numberInput = $("number"), resend = $("resend"), codeInput = $("code");
  let verification = null, timer = null, otpAbort = null;

  // Country names in the reader's language, sorted by name in that language (Intl.Collator:
  // "Ägypten" among the A's in German), the default region (the one the server selected)
  // first. The server sends ISO codes and calling codes, default first, the rest by code.
  try {
    const language = navigator.language || "en";
    const names = new Intl.DisplayNames([language], { type: "region" });
    const collator = new Intl.Collator(language);
    const select = $("country");
    const chosen = select.value;
    const options = [...select.options];
    const name = new Map(options.map((o) => [o, names.of(o.value) || o.value]));
    for (const option of options) option.textContent = `${name.get(option)} (+${option.dataset.cc})`;
    options.sort((a, b) => (b.defaultSelected - a.defaultSelected) || collator.compare(name.get(a), name.get(b)));
    select.replaceChildren(...options);
    select.value = chosen;
  } catch (_) { /* keep the codes */ }

  // A message belongs next to the field it is about: "<field id>-error", right below the field,
  // named by its aria-describedby and announced (role="alert"); the field gets the error style
  // (aria-invalid) until the next change. Scrolled into view: at 360 px, or below a QR code,
  // the user must see it without looking for it.
  function fieldError(input, text) {
    const error = $(`${input.id}-error`);
    error.textContent = text;
    if (!text) { input.removeAttribute("aria-invalid"); return; }
    input.setAttribute("aria-invalid", "true");
    error.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("input", (event) => {
    if (event.target.getAttribute("aria-invalid")) fieldError(event.target, "");
  });
  const mask = (to) => to.includes("@")
    ? to.slice(0, 1) + "***" + to.slice(to.lastIndexOf("@"))
    : to.slice(0, 5) + "*".repeat(Math.max(0, to.length - 7)) + to.slice(-2);

  // The channels this deployment offers (a choice above the fields when there is more than SMS).
  const channel = () => (document.querySelector('input[name="channel"]:checked') || { value: "sms" }).value;
  const recipientInput = () => (channel() === "email" ? $("email") : numberInput);
  const HELP = {
    sms: `We will text you a ${codeLength}-digit code.`,
    whatsapp: `We will send you a ${codeLength}-digit code on WhatsApp.`,
    email: `We will email you a ${codeLength}-digit code.`,
  };
  // The first tab (beside "Authenticator app"), the heading without tabs and the buttons that
  // name the recipient follow the channel; the inbox's title and list too (inbox.js).
  const TAB = { sms: "Text message", whatsapp: "WhatsApp", email: "Email" };
  const heading = document.querySelector("h1"), phoneHeading = heading.textContent;
  function showChannel() {
    const email = channel() === "email";
    $("phone-fields").hidden = email;
    if ($("email-fields")) $("email-fields").hidden = !email;
    $("number-help").textContent = HELP[channel()];
    if ($("tab-sms")) $("tab-sms").textContent = TAB[channel()];
    if (phoneHeading === "Verify your phone number") heading.textContent = email ? "Verify your email address" : phoneHeading;
    $("change").textContent = email ? "Use another address" : "Use another number";
    $("again").textContent = email ? "Verify another address" : "Verify another number";
  }
  for (const radio of document.querySelectorAll('input[name="channel"]')) radio.addEventListener("change", showChannel);
  if ($("channel")) $("channel").hidden = false;  // without JavaScript the form posts SMS only
  showChannel();
  const minutes = (s) => (s >= 120 ? `${Math.ceil(s / 60)} minutes` : `${s} seconds`);

  async function api(path, body) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
      });
    } catch (_) {
      throw { code: "network", message: "We could not reach the server. Check your connection." };
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw { status: response.status, ...(data.error || { code: "unknown" }) };
    return data;
  }
  function explain(error) {
    switch (error.code) {
      case "invalid_phone_number": return "That phone number does not look right. Check the country and the number.";
      case "invalid_email_address": return "That email address does not look right.";
      case "unsupported_channel": return "We cannot send codes this way. Choose another way.";
      case "unsupported_number_type": return "This number cannot receive text messages. Use a mobile number.";
      case "country_not_allowed": return "We cannot send codes to this country.";
      case "incorrect_code":
        return error.attempts_remaining > 0
          ? `That code is not right. ${error.attempts_remaining} ${error.attempts_remaining === 1 ? "attempt" : "attempts"} left.`
          : "That code is not right, and no attempts are left. Request a new code later.";
      case "verification_not_found": return "This code has expired or was already used. Send a new code.";
      case "max_attempts_reached": return `Too many wrong codes. You can request a new code in ${minutes(error.retry_after || 600)}.`;
      case "resend_too_soon": return `Please wait ${error.retry_after} seconds before asking for another code.`;
      case "too_many_sends": case "too_many_verifications":
        return `Too many codes were sent to this number. Try again in ${minutes(error.retry_after || 600)}.`;
      case "delivery_failed": return "We could not send the code. Please try again.";
      case "undeliverable_number":
        return channel() === "email" ? "This address cannot receive our messages. Try another address."
          : channel() === "whatsapp" ? "This number cannot receive WhatsApp messages. Choose SMS."
            : "This number cannot receive our messages. Try another number.";
      case "invalid_code_format": return `Enter the ${codeLength} digits from the message.`;
      case "network": return error.message;
      default:
        return error.status === 429 && error.retry_after
          ? `Too many requests. Try again in ${minutes(error.retry_after)}.`
          : "Something went wrong. Please try again.";
    }
  }

  function countdown(seconds) {
    clearInterval(timer);
    let left = Math.max(0, Math.ceil(seconds));
    const tick = () => {
      resend.disabled = left > 0;
      resend.textContent = left > 0 ? `Resend code in ${left} s` : "Resend code";
      if (left-- <= 0) clearInterval(timer);
    };
    tick();
    timer = setInterval(tick, 1000);
  }

  function listenForSms() {
    // WebOTP: the browser offers the code from an SMS whose last line is "@host #code".
    if (!("OTPCredential" in window)) return;
    if (otpAbort) otpAbort.abort();
    otpAbort = new AbortController();
    navigator.credentials.get({ otp: { transport: ["sms"] }, signal: otpAbort.signal })
      .then((otp) => { if (otp && otp.code) { codeInput.value = otp.code; codeStep.requestSubmit(); } })
      .catch(() => {});
  }

  // The done screen: after a code (verified) or a passkey (passkeys.js: signed in).
  function showDone(heading, text) {
    clearInterval(timer);
    if (otpAbort) otpAbort.abort();
    phoneStep.hidden = true;
    codeStep.hidden = true;
    done.hidden = false;
    done.querySelector("h2").textContent = heading;
    $("verified").textContent = text;
    done.querySelector("h2").focus();
  }
  // The other scripts (totp.js, passkeys.js, loaded after this one) post and speak through these.
  window.phoneVerify = Object.freeze({ api, fieldError, explain, mask, showDone });

  async function send(isResend) {
    const via = channel(), input = recipientInput();
    const body = via === "email" ? { to: input.value.trim(), channel: via }
      : { to: input.value.trim(), country: $("country").value, ...(via === "sms" ? {} : { channel: via }) };
    if (!body.to) {
      input.focus();
      fieldError(input, via === "email" ? "Enter your email address." : "Enter your phone number.");
      return;
    }
    const button = isResend ? resend : $("send");
    button.disabled = true;
    try {
      verification = await api("/v1/verifications", body);
      phoneStep.hidden = true;
      codeStep.hidden = false;
      fieldError(input, "");
      fieldError(codeInput, "");
      $("sent-to").textContent = `We sent ${isResend ? "a new code" : "a code"} to ${mask(verification.to)}.`;
      countdown(verification.resend_after);
      codeInput.value = "";
      codeInput.focus();
      if (via === "sms") listenForSms();
    } catch (error) {
      if (error.code === "resend_too_soon") countdown(error.retry_after);
      else if (isResend) resend.disabled = false;
      const field = isResend ? codeInput : input;
      if (!isResend) field.focus();
      fieldError(field, explain(error));
    } finally {
      if (!isResend) button.disabled = false;
    }
  }

  phoneStep.addEventListener("submit", (event) => { event.preventDefault(); send(false); });
  resend.addEventListener("click", () => send(true));
  function backToNumber() {
    document.dispatchEvent(new CustomEvent("phone-verify:restart"));
    clearInterval(timer);
    if (otpAbort) otpAbort.abort();
    codeStep.hidden = true;
    done.hidden = true;
    phoneStep.hidden = false;
    fieldError(codeInput, "");
    recipientInput().focus();
  }
  $("change").addEventListener("click", backToNumber);
  $("again").addEventListener("click", () => { recipientInput().value = ""; backToNumber(); });

  codeStep.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = codeInput.value.trim();
    if (!new RegExp(`^[0-9]{${codeLength}}$`).test(code)) {
      codeInput.focus();
      fieldError(codeInput, `Enter the ${codeLength} digits from the message.`);
      return;
    }
    $("verify").disabled = true;
    try {
      const approval = await api("/v1/verifications/check", { id: verification.id, code });
      // passkeys.js offers "Add a passkey" for the number, with the check's receipt (the
      // registration consumes it): before showDone, so the offer is on screen when focus lands.
      document.dispatchEvent(new CustomEvent("phone-verify:verified",
        { detail: { to: verification.to, receipt: approval.receipt || null } }));
      showDone(verification.to.includes("@") ? "Email address verified" : "Phone number verified",
        `${mask(verification.to)} is yours. You can close this page.`);
    } catch (error) {
      codeInput.select();
      codeInput.focus();
      fieldError(codeInput, explain(error));
    } finally {
      $("verify").disabled = false;
    }
  });

})();
