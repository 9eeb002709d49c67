// The local SMS inbox (make run, console provider only) and the events the table's stream
// implies (what OTP_EVENTS_URL would get): newest first, refreshed every second.
"use strict";

(() => {
  const inbox = document.getElementById("inbox");
  if (!inbox) return;
  const refresh = async () => {
    try {
      const messages = await (await fetch("/dev/inbox.json", { cache: "no-store" })).json();
      inbox.replaceChildren(...messages.map((m) => {
        const item = document.createElement("li");
        item.textContent = `${m.to} (${m.channel})\n${m.body}`;
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
        item.textContent = `${e.type} ${e.data.id.slice(0, 10)}… ${e.data.status}\n${JSON.stringify(e.data)}`;
        return item;
      }));
      if (!got.length) events.replaceChildren(Object.assign(document.createElement("li"), { textContent: "No events yet." }));
    } catch (_) { /* the server is restarting */ }
  };
  refresh();
  refreshEvents();
  setInterval(() => { refresh(); refreshEvents(); }, 1000);
})();
