// The local SMS inbox (make run, console provider only) and the events the table's stream
// implies (what OTP_EVENTS_URL would get): newest first, refreshed every second.
"use strict";

(() => {
  const inbox = document.getElementById("inbox");
  if (!inbox) return;
  const refresh = async () => {
    try {
      const messages = await (await fetch("/dev/inbox.json", { cache: "no-store" })).json();
      // Newest first: an older message to the same number holds a code a newer one replaced
      // (a resend, or a new verification), which no longer works.
      const seen = new Set();
      inbox.replaceChildren(...messages.map((m) => {
        const item = document.createElement("li");
        const replaced = seen.has(m.to);
        seen.add(m.to);
        const head = document.createElement("span");
        head.className = "to";
        head.textContent = `${m.to} (${m.channel})` + (replaced ? " · replaced by a newer code" : "");
        const body = document.createElement("span");
        body.className = "body";
        body.textContent = m.body;
        if (replaced) item.className = "replaced";
        item.replaceChildren(head, body);
        return item;
      }));
      if (!messages.length) inbox.replaceChildren(Object.assign(document.createElement("li"), { textContent: "No messages yet." }));
    } catch (_) { /* the server is restarting */ }
  };
  const events = document.getElementById("events");
  const refreshEvents = async () => {
    if (!events) return;
    try {
      const got = await (await fetch("/dev/events.json", { cache: "no-store" })).json();
      events.replaceChildren(...got.map((e) => {
        const item = document.createElement("li");
        const about = e.data.id || e.data.factor_id || "";  // a verification's, or a TOTP factor's
        item.textContent = `${e.type} ${about.slice(0, 10)}… ${e.data.status || ""}\n${JSON.stringify(e.data)}`;
        return item;
      }));
      if (!got.length) events.replaceChildren(Object.assign(document.createElement("li"), { textContent: "No events yet." }));
    } catch (_) { /* the server is restarting */ }
  };
  refresh();
  refreshEvents();
  setInterval(() => { refresh(); refreshEvents(); }, 1000);
})();
