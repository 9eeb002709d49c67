// The local SMS inbox (make run, console provider only): newest first, refreshed every second.
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
  refresh();
  setInterval(refresh, 1000);
})();
