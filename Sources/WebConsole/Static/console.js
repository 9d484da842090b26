// Branchdesk console: live deadline clocks and keyboard shortcuts. Pages work without it.
"use strict";
(function () {
  const zh = document.documentElement.lang.startsWith("zh");
  function span(ms) {
    const minutes = Math.floor(Math.abs(ms) / 60000), hours = Math.floor(minutes / 60), days = Math.floor(hours / 24);
    if (days > 0) return zh ? `${days}天${hours % 24}小时` : `${days}d ${hours % 24}h`;
    if (hours > 0) return zh ? `${hours}小时${minutes % 60}分` : `${hours}h ${minutes % 60}m`;
    return zh ? `${minutes}分` : `${minutes}m`;
  }
  function tick() {
    const now = Date.now();
    for (const clock of document.querySelectorAll(".clock[data-due]")) {
      const state = clock.dataset.state;
      if (!clock.dataset.due || state === "paused" || state === "met" || state === "met-late") continue;
      const left = Date.parse(clock.dataset.due) - now;
      const soon = (clock.dataset.soonHours ? Number(clock.dataset.soonHours) : 4) * 3600000;
      const next = left < 0 ? "breached" : left <= soon ? "due-soon" : "on-time";
      clock.classList.remove("on-time", "due-soon", "breached");
      clock.classList.add(next);
      clock.textContent = left < 0 ? (zh ? `超时 ${span(left)}` : `${span(left)} over`) : (zh ? `剩 ${span(left)}` : `${span(left)} left`);
    }
  }
  tick();
  setInterval(tick, 1000);
  // Keyboard: / search, n new complaint, j/k move in the queue, Enter opens, ? lists the keys.
  const rows = () => Array.from(document.querySelectorAll("table.queue tbody tr"));
  let selected = -1;
  function select(index) {
    const all = rows();
    if (all.length === 0) return;
    selected = Math.max(0, Math.min(all.length - 1, index));
    all.forEach((row, i) => row.classList.toggle("selected", i === selected));
    all[selected].scrollIntoView({ block: "nearest" });
  }
  function help() {
    const open = document.querySelector(".shortcuts");
    if (open) { open.remove(); return; }
    const box = document.createElement("div");
    box.className = "shortcuts";
    const keys = zh
      ? [["/", "搜索"], ["n", "新建投诉"], ["j / k", "上下移动"], ["Enter", "打开工单"], ["?", "快捷键"]]
      : [["/", "search"], ["n", "new complaint"], ["j / k", "move down / up"], ["Enter", "open the ticket"], ["?", "these keys"]];
    for (const [key, what] of keys) {
      const line = document.createElement("div");
      const kbd = document.createElement("kbd");
      kbd.textContent = key;
      line.append(kbd, " " + what);
      box.append(line);
    }
    document.body.append(box);
  }
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select") || event.metaKey || event.ctrlKey || event.altKey) return;
    if (event.key === "j") { select(selected + 1); return; }
    if (event.key === "k") { select(selected - 1); return; }
    if (event.key === "Enter" && selected >= 0) { rows()[selected].querySelector("a")?.click(); return; }
    if (event.key === "?") { help(); return; }
    const link = document.querySelector(`[data-key="${event.key}"]`);
    if (link) { event.preventDefault(); link.click(); }
  });
  // Printing the report: a link rather than an inline handler, which the page's policy forbids.
  for (const link of document.querySelectorAll("[data-print]")) {
    link.addEventListener("click", (event) => { event.preventDefault(); window.print(); });
  }
  // Live updates: the node says when what the page shows changed. The queue takes the new rows
  // in place (unless someone is typing in it); a ticket page says so and keeps what is typed.
  const live = document.body.dataset.live;
  if (live && window.EventSource) {
    const source = new EventSource(live);
    source.addEventListener("change", async () => {
      if (document.body.dataset.liveMode !== "replace") {
        document.querySelector("p.live")?.removeAttribute("hidden");
        return;
      }
      if (document.activeElement?.closest("main input, main select, main textarea")) return;
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("main section");
      const current = document.querySelector("main section");
      if (fresh && current) { current.replaceWith(fresh); selected = -1; tick(); }
    });
  }
  // Intake: the customer's earlier complaints, looked up as soon as the phone is typed.
  const phone = document.querySelector("form.intake input[name=phone]");
  if (phone) {
    phone.addEventListener("change", async () => {
      const response = await fetch("/tickets/new?phone=" + encodeURIComponent(phone.value), { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("[data-earlier]");
      if (fresh) document.querySelector("[data-earlier]")?.replaceWith(fresh);
    });
  }
})();
