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
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select") || event.metaKey || event.ctrlKey || event.altKey) return;
    const link = document.querySelector(`[data-key="${event.key}"]`);
    if (link) { event.preventDefault(); link.click(); }
  });
})();
