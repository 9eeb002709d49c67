// Passkeys on the page (docs/passkeys.md#on-the-page): "Add a passkey" after a number is
// verified, "Sign in with a passkey" beside the SMS path. The v1 routes speak WebAuthn's JSON
// (base64url without padding, as PublicKeyCredential.toJSON() writes it), so the browser's
// parse*FromJSON does the byte work; the fallback below is for browsers without them.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const verify = window.phoneVerify;
  // Without WebAuthn (or without app.js) the buttons stay hidden, as without JavaScript.
  if (!verify || !window.PublicKeyCredential || !navigator.credentials) return;
  const signIn = $("passkey-signin"), add = $("passkey-add"), status = $("passkey-status");
  const addButton = $("passkey-add-button"), signInButton = $("passkey-signin-button");
  let receipt = null, creation = null;  // the verification's receipt, then its creation options

  const say = (id, text) => {
    $(id).textContent = text;
    if (text) $(id).scrollIntoView({ block: "nearest" });
  };

  // WebAuthn takes no IP address as a relying party id (its origin's host must be a domain):
  // said before any request, so no challenge is written for nothing.
  const ipHost = /^[0-9.]+$|^\[/.test(location.hostname);
  const IP_HOST = `Passkeys need a domain name, not an IP address: open this page at localhost${
    location.port ? ":" + location.port : ""}.`;

  // The browser's refusals (DOMException names) and the service's (the v1 error codes), in words.
  function explain(error, making) {
    // A DOMException's `code` is its legacy number: its name says what happened.
    const what = error instanceof DOMException || error instanceof TypeError ? error.name : error && error.code;
    switch (what) {
      case "NotAllowedError":
        return making ? "Adding the passkey was cancelled or timed out. Try again."
          : "The passkey request was cancelled or timed out, or this device has no passkey for this site.";
      case "InvalidStateError": return "This device already has a passkey for this number.";
      case "NotSupportedError": return "This device has no authenticator that can make a passkey here.";
      // Another site's relying party id (OTP_PASSKEY_RP_ID names a domain this page is not on).
      case "SecurityError": return ipHost ? IP_HOST : "Passkeys are not set up for this address. Send a code instead.";
      case "AbortError": return "The passkey request was stopped. Try again.";
      case "TypeError": return "This browser could not read the passkey request. Try another browser.";
      case "invalid_receipt": return "This verification has expired. Verify your number again to add a passkey.";
      case "receipt_used": return "This verification was already used. Verify your number again to add a passkey.";
      case "invalid_credential": return "This passkey was not accepted. Use another passkey, or send a code.";
      case "challenge_not_found":
        return making ? "This passkey request expired. Verify your number again to add a passkey."
          : "This passkey request expired. Try again.";
      case "no_passkey": return "This number has no passkey yet. Send a code, then add one.";
      case "too_many_passkeys": return "This number has as many passkeys as it may have. Sign in with one of them.";
      case "counter_regressed": return "This passkey looks copied, so it was refused. Send a code instead.";
      default: return verify.explain(error || {});
    }
  }

  // base64url <-> bytes, only where the browser lacks parse*FromJSON / toJSON (before 2024).
  const bytes = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const text64 = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const ids = (list) => (list || []).map((c) => ({ ...c, id: bytes(c.id) }));
  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    return { ...json, challenge: bytes(json.challenge), user: { ...json.user, id: bytes(json.user.id) },
      excludeCredentials: ids(json.excludeCredentials) };
  }
  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    return { ...json, challenge: bytes(json.challenge), allowCredentials: ids(json.allowCredentials) };
  }
  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const r = credential.response, response = { clientDataJSON: text64(r.clientDataJSON) };
    if (r.attestationObject) {
      // What toJSON() writes for an attestation (WebAuthn Level 3, AuthenticatorAttestationResponseJSON).
      response.attestationObject = text64(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
      if (r.getAuthenticatorData) response.authenticatorData = text64(r.getAuthenticatorData());
      const key = r.getPublicKey && r.getPublicKey();
      if (key) response.publicKey = text64(key);
      if (r.getPublicKeyAlgorithm) response.publicKeyAlgorithm = r.getPublicKeyAlgorithm();
    } else {
      response.authenticatorData = text64(r.authenticatorData);
      response.signature = text64(r.signature);
      if (r.userHandle) response.userHandle = text64(r.userHandle);
    }
    return { id: credential.id, rawId: text64(credential.rawId), type: credential.type, response,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults() };
  }

  // The SMS path's number as E.164: "+..." or "00..." as typed, else the country's calling
  // code before the national number without its trunk 0 (and a NANP number's leading 1).
  function typedNumber() {
    const typed = $("number").value.trim();
    if (!typed) return null;
    const digits = typed.replace(/\D/g, "");
    if (typed.startsWith("+")) return "+" + digits;
    if (digits.startsWith("00")) return "+" + digits.slice(2);
    const cc = $("country").selectedOptions[0].dataset.cc;
    const national = cc === "1" && digits.length === 11 && digits.startsWith("1") ? digits.slice(1)
      : digits.replace(/^0/, "");
    return "+" + cc + national;
  }

  // Passkeys are for numbers: hidden while the email channel is chosen.
  const showSignIn = () => {
    const choice = document.querySelector('input[name="channel"]:checked');
    signIn.hidden = Boolean(choice && choice.value === "email");
  };
  for (const radio of document.querySelectorAll('input[name="channel"]')) radio.addEventListener("change", showSignIn);
  showSignIn();

  document.addEventListener("phone-verify:verified", (event) => {
    const { to, receipt: signed } = event.detail;
    receipt = to.includes("@") ? null : signed;  // no receipt (KMS failed): nothing to bind
    creation = null;
    add.hidden = !receipt;
    addButton.disabled = false;
    say("passkey-add-error", "");
    status.textContent = "";
  });
  document.addEventListener("phone-verify:restart", () => {
    add.hidden = true;
    receipt = creation = null;
    status.textContent = "";
    say("passkey-signin-error", "");
  });

  addButton.addEventListener("click", async () => {
    say("passkey-add-error", "");
    if (ipHost) { say("passkey-add-error", IP_HOST); return; }
    addButton.disabled = true;
    try {
      // The registration consumes the receipt: its options are kept for a retry after a
      // cancel, until the service says the challenge is gone.
      if (!creation) creation = (await verify.api("/v1/passkeys/registrations", { receipt })).public_key;
      const credential = await navigator.credentials.create({ publicKey: creationOptions(creation) });
      const added = await verify.api("/v1/passkeys/registrations/verify", { credential: credentialJSON(credential) });
      creation = receipt = null;
      add.hidden = true;
      status.textContent = `Passkey added for ${verify.mask(added.to)}. Next time, choose "Sign in with a passkey".`;
      $("again").focus();
    } catch (error) {
      // A refused credential leaves the challenge open (a retry may use another authenticator);
      // a spent or expired one needs a new verification, the receipt being used.
      if (error && error.code === "challenge_not_found") creation = null;
      say("passkey-add-error", explain(error, true));
      addButton.disabled = false;  // (a disabled button takes no focus)
      addButton.focus();
    } finally {
      addButton.disabled = false;
    }
  });

  signInButton.addEventListener("click", async () => {
    say("passkey-signin-error", "");
    if (ipHost) { say("passkey-signin-error", IP_HOST); return; }
    signInButton.disabled = true;
    try {
      // A number: its passkeys (allowCredentials); none typed: any passkey of this site
      // (discoverable), the browser asks which.
      const to = typedNumber();
      const request = (await verify.api("/v1/passkeys/challenges", to ? { to } : {})).public_key;
      const credential = await navigator.credentials.get({ publicKey: requestOptions(request) });
      const approved = await verify.api("/v1/passkeys/challenges/approve", { credential: credentialJSON(credential) });
      add.hidden = true;
      status.textContent = "";
      verify.showDone("Signed in with a passkey", `${verify.mask(approved.to)} is yours: your passkey said so.`);
    } catch (error) {
      say("passkey-signin-error", explain(error, false));
      signInButton.disabled = false;  // (a disabled button takes no focus)
      signInButton.focus();
    } finally {
      signInButton.disabled = false;
    }
  });

})();
