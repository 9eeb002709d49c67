// The "Authenticator app" tab (local stage only): enroll a TOTP factor, confirm it with a
// code, then verify a code and show the approval. The tabs follow the WAI-ARIA tabs pattern
// (arrow keys, Home and End move between tabs; only the selected tab is in the Tab order).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  if (!tabs.length) return;
  document.querySelector('[role="tablist"]').hidden = false;  // hidden without JavaScript

  function select(tab, focus) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
    const inbox = $("inbox-panel");  // the local SMS inbox is about text messages only
    if (inbox) inbox.hidden = tab.id !== "tab-sms";
    if (focus) tab.focus();
  }
  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab, true));
    tab.addEventListener("keydown", (event) => {
      const i = tabs.indexOf(tab), n = tabs.length;
      const next = { ArrowRight: (i + 1) % n, ArrowLeft: (i - 1 + n) % n, Home: 0, End: n - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      select(tabs[next], true);
    });
  }

  const status = $("totp-status"), identityInput = $("totp-identity");
  const steps = ["totp-enroll", "totp-confirm", "totp-challenge", "totp-done"].map($);
  const say = (text) => { status.textContent = text; };
  const minutes = (s) => (s >= 120 ? `${Math.ceil(s / 60)} minutes` : `${s} seconds`);
  const SIX_DIGITS = /^[0-9]{6}$/;
  let identity = "", factor = null;

  function show(step, focus) {
    for (const s of steps) s.hidden = s !== step;
    (focus || step.querySelector("h2") || step.querySelector("input")).focus();
  }

  // app.js: POST JSON and throw the contract's error; show a message below its field.
  const { api, fieldError } = window.phoneVerify;

  function explain(error) {
    switch (error.code) {
      case "invalid_request": return "Check the user id: 1 to 128 letters, digits or . _ @ : -";
      case "invalid_code_format": return "Enter the 6 digits the app shows.";
      case "incorrect_code":
        // attempts_remaining: wrong codes in a row before the app is suspended (100 at first).
        if (error.attempts_remaining > 10) return "That code is not right, or was already used.";
        return error.attempts_remaining > 0
          ? `That code is not right, or was already used. ${error.attempts_remaining} more wrong ${error.attempts_remaining === 1 ? "code" : "codes"} in a row will suspend this app.`
          : "That code is not right. This authenticator app is now suspended.";
      case "factor_suspended": return "This authenticator app is suspended after too many wrong codes. Set it up again, or ask the app's support to re-enable it.";
      case "max_attempts_reached": return `Too many wrong codes in a row. Try again in ${minutes(error.retry_after || 30)}.`;
      case "factor_not_found": return "No confirmed authenticator app for this user id (or it has expired). Set one up.";
      case "factor_already_verified": return "This authenticator app is already confirmed.";
      case "too_many_factors": return "This user id has too many authenticator apps.";
      case "not_found": return "Authenticator apps are not enabled on this server.";
      case "network": return "We could not reach the server. Check your connection.";
      default: return "Something went wrong. Please try again.";
    }
  }

  // The QR code comes from our own server, and is still shown as an image, never as markup:
  // an SVG in an <img> runs no script and loads nothing, whatever it holds. The blob: URL
  // needs "img-src blob:", which the page's CSP allows only where this tab exists; an SVG
  // that does not render (not an SVG at all) leaves the key alone on the page.
  function showQr(svgText) {
    const box = $("totp-qr");
    box.replaceChildren();
    box.hidden = true;
    const url = URL.createObjectURL(new Blob([svgText], { type: "image/svg+xml" }));
    const img = new Image();
    img.alt = "QR code for your authenticator app";
    img.addEventListener("load", () => { URL.revokeObjectURL(url); box.hidden = false; });
    img.addEventListener("error", () => {
      URL.revokeObjectURL(url);
      box.replaceChildren();
      say("Type the key into your authenticator app, then enter the code it shows.");
    });
    img.src = url;
    box.replaceChildren(img);
  }

  const groupsOfFour = (secret) => secret.replace(/(.{4})(?=.)/g, "$1 ");

  function toChallenge(message) {
    $("totp-for").textContent = `User id: ${identity}`;
    $("totp-code").value = "";
    fieldError($("totp-code"), "");
    show(steps[2], $("totp-code"));
    say(message);
  }

  $("totp-enroll").addEventListener("submit", async (event) => {
    event.preventDefault();
    identity = identityInput.value.trim();
    if (!identity) { identityInput.focus(); fieldError(identityInput, "Enter a user id."); return; }
    $("totp-start").disabled = true;
    try {
      factor = await api("/v1/totp/factors", { identity });
      fieldError(identityInput, "");
      $("totp-secret").textContent = groupsOfFour(factor.secret);
      $("totp-confirm-code").value = "";
      fieldError($("totp-confirm-code"), "");
      say("");  // the step's heading says what to do
      show(steps[1]);
      showQr(factor.qr_svg);
    } catch (error) {
      identityInput.focus();
      fieldError(identityInput, explain(error));
    } finally {
      $("totp-start").disabled = false;
    }
  });

  $("totp-have").addEventListener("click", () => {
    identity = identityInput.value.trim();
    if (!identity) { identityInput.focus(); fieldError(identityInput, "Enter a user id."); return; }
    fieldError(identityInput, "");
    toChallenge("");
  });

  async function submitCode(input, button, call) {
    const code = input.value.trim();
    if (!SIX_DIGITS.test(code)) { input.focus(); fieldError(input, "Enter the 6 digits the app shows."); return; }
    button.disabled = true;
    try {
      await call(code);
    } catch (error) {
      if (error.code === "factor_not_found") {
        show(steps[0], identityInput);
        fieldError(identityInput, explain(error));
        return;
      }
      input.select();
      input.focus();
      fieldError(input, explain(error));
    } finally {
      button.disabled = false;
    }
  }

  $("totp-confirm").addEventListener("submit", (event) => {
    event.preventDefault();
    submitCode($("totp-confirm-code"), $("totp-confirm-button"), async (code) => {
      await api(`/v1/totp/factors/${encodeURIComponent(factor.id)}/verify`, { code });
      $("totp-secret").textContent = "";  // shown only once
      $("totp-qr").replaceChildren();
      toChallenge("Your authenticator app is set up. Sign in with the next code it shows.");
    });
  });

  $("totp-challenge").addEventListener("submit", (event) => {
    event.preventDefault();
    submitCode($("totp-code"), $("totp-verify"), async (code) => {
      const answer = await api("/v1/totp/challenges", { identity, code });
      $("totp-approval").textContent = `Approved for ${identity} (factor …${answer.factor_id.slice(-8)}).`;
      $("totp-receipt").textContent = describeReceipt(answer.receipt);
      show(steps[3]);
      say("Your code is approved.");
    });
  });

  function describeReceipt(receipt) {
    if (!receipt) return "No receipt came back: the signing key was unavailable.";
    try {
      const part = receipt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(atob(part));
      const until = new Date(claims.exp * 1000).toLocaleTimeString();
      return `A signed receipt came back: sub ${claims.sub}, amr ${claims.amr.join(", ")}, valid until ${until}.`;
    } catch (_) {
      return "A signed receipt came back.";
    }
  }

  $("totp-restart").addEventListener("click", () => { say(""); show(steps[0], identityInput); });
  $("totp-again").addEventListener("click", () => toChallenge(""));
})();
