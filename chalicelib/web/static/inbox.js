// The local inbox (make run, console provider only) and the events the table's stream
// implies (what OTP_EVENTS_URL would get): newest first, refreshed every second. Beside the
// form it lists the channel chosen there (its title says which); /dev/inbox lists them all.
"use strict";

(() => {
  const inbox = document.getElementById("inbox");
  if (!inbox) return;
  const NAMES = { sms: "Local SMS inbox", whatsapp: "Local WhatsApp inbox", email: "Local email inbox" };
  const radios = [...document.querySelectorAll('input[name="channel"]')];
  const onPage = document.getElementById("phone-step") !== null;  // beside the form, not /dev/inbox
  const chosen = () => (onPage ? (radios.find((r) => r.checked) || { value: "sms" }).value : null);
  // As the page masks a recipient (app.js): +1415*****71, a***@example.com.
  const mask = (to) => to.includes("@")
    ? to.slice(0, 1) + "***" + to.slice(to.lastIndexOf("@"))
    : to.slice(0, 5) + "*".repeat(Math.max(0, to.length - 7)) + to.slice(-2);
  const span = (className, text) => Object.assign(document.createElement("span"), { className, textContent: text });
  const empty = (list, text) => list.replaceChildren(Object.assign(document.createElement("li"), { textContent: text }));
  let messages = [];
  const show = () => {
    const channel = chosen();
    if (channel) document.getElementById("inbox-name").textContent = NAMES[channel];
    // Newest first: an older message to the same number holds a code a newer one replaced
    // (a resend, or a new verification), which no longer works.
    const seen = new Set();
    const shown = messages.filter((m) => !channel || m.channel === channel);
    inbox.replaceChildren(...shown.map((m) => {
      const item = document.createElement("li");
      const replaced = seen.has(m.to);
      seen.add(m.to);
      if (replaced) item.className = "replaced";
      item.replaceChildren(span("to", `${m.to} (${m.channel})` + (replaced ? " · replaced by a newer code" : "")),
        span("body", m.body));
      return item;
    }));
    if (!shown.length) empty(inbox, "No messages yet.");
  };
  for (const radio of radios) radio.addEventListener("change", show);
  const refresh = async () => {
    try {
      messages = await (await fetch("/dev/inbox.json", { cache: "no-store" })).json();
      show();
    } catch (_) { /* the server is restarting */ }
  };

  // Each event as a line a person reads (its time, type, channel, recipient, status), its
  // JSON one click away.
  const events = document.getElementById("events");
  const time = (timestamp) => {
    const at = document.createElement("time");
    at.dateTime = timestamp;
    const date = new Date(timestamp);
    at.textContent = Number.isNaN(date.getTime()) ? timestamp
      : date.toLocaleTimeString(navigator.language || "en", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
    return at;
  };
  const eventLine = (e) => {
    const data = e.data || {};
    const totp = e.type.startsWith("totp.");
    const who = totp ? data.identity || "" : mask(data.to || "");
    const status = data.status || (data.send && data.send.status) || "";
    const line = span("event", "");
    line.replaceChildren(time(e.timestamp || ""),
      ` ${[e.type, totp ? "authenticator app" : data.channel, who, status].filter(Boolean).join(" · ")}`);
    const details = document.createElement("details");
    details.replaceChildren(Object.assign(document.createElement("summary"), { textContent: "JSON" }),
      Object.assign(document.createElement("pre"), { textContent: JSON.stringify(e, null, 2) }));
    const item = document.createElement("li");
    item.replaceChildren(line, details);
    return item;
  };
  const refreshEvents = async () => {
    if (!events) return;
    try {
      const got = await (await fetch("/dev/events.json", { cache: "no-store" })).json();
      // A panel opened to read one event's JSON stays open across the refresh.
      const open = new Set([...events.querySelectorAll("details[open]")].map((d) => d.closest("li").dataset.id));
      events.replaceChildren(...got.map((e) => {
        const item = eventLine(e);
        item.dataset.id = e.webhook_id || "";
        if (open.has(item.dataset.id)) item.querySelector("details").open = true;
        return item;
      }));
      if (!got.length) empty(events, "No events yet.");
    } catch (_) { /* the server is restarting */ }
  };
  refresh();
  refreshEvents();
  setInterval(() => { refresh(); refreshEvents(); }, 1000);
})();
