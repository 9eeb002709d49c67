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
  const mask = (e164) => e164.slice(0, 5) + "*".repeat(Math.max(0, e164.length - 7)) + e164.slice(-2);
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
  // The tab scripts (totp.js, loaded after this one) post through the same function.
  window.phoneVerify = Object.freeze({ api, fieldError });

  function explain(error) {
    switch (error.code) {
      case "invalid_phone_number": return "That phone number does not look right. Check the country and the number.";
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
      case "undeliverable_number": return "This number cannot receive our messages. Try another number.";
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

  async function send(isResend) {
    const body = { to: numberInput.value.trim(), country: $("country").value };
    if (!body.to) { numberInput.focus(); fieldError(numberInput, "Enter your phone number."); return; }
    const button = isResend ? resend : $("send");
    button.disabled = true;
    try {
      verification = await api("/v1/verifications", body);
      phoneStep.hidden = true;
      codeStep.hidden = false;
      fieldError(numberInput, "");
      fieldError(codeInput, "");
      $("sent-to").textContent = `We sent ${isResend ? "a new code" : "a code"} to ${mask(verification.to)}.`;
      countdown(verification.resend_after);
      codeInput.value = "";
      codeInput.focus();
      listenForSms();
    } catch (error) {
      if (error.code === "resend_too_soon") countdown(error.retry_after);
      else if (isResend) resend.disabled = false;
      const field = isResend ? codeInput : numberInput;
      if (!isResend) field.focus();
      fieldError(field, explain(error));
    } finally {
      if (!isResend) button.disabled = false;
    }
  }

  phoneStep.addEventListener("submit", (event) => { event.preventDefault(); send(false); });
  resend.addEventListener("click", () => send(true));
  function backToNumber() {
    clearInterval(timer);
    if (otpAbort) otpAbort.abort();
    codeStep.hidden = true;
    done.hidden = true;
    phoneStep.hidden = false;
    fieldError(codeInput, "");
    numberInput.focus();
  }
  $("change").addEventListener("click", backToNumber);
  $("again").addEventListener("click", () => { numberInput.value = ""; backToNumber(); });

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
      await api("/v1/verifications/check", { id: verification.id, code });
      clearInterval(timer);
      if (otpAbort) otpAbort.abort();
      codeStep.hidden = true;
      done.hidden = false;
      $("verified").textContent = `${mask(verification.to)} is yours. You can close this page.`;
      done.querySelector("h2").focus();
    } catch (error) {
      codeInput.select();
      codeInput.focus();
      fieldError(codeInput, explain(error));
    } finally {
      $("verify").disabled = false;
    }
  });

})();
