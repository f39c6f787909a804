/* Tocsin status widget. Embed with
 *   <script src="https://status.example.com/status/widget.js" async></script>
 * It shows a small banner linking to the status page while an incident is unresolved or
 * a component is not operational, and removes it otherwise. data-interval="N" checks
 * every N seconds (default 60, at least 1). No cookies, no storage, no dependencies. */
(function () {
  "use strict";
  // Only valid while this script first runs: captured now, before any callback.
  var me = document.currentScript;
  if (!me || !me.src || !window.fetch) return;
  var page = me.src.replace(/\/widget\.js([?#].*)?$/, "");
  var every = Math.max(1, parseInt(me.getAttribute("data-interval"), 10) || 60) * 1000;
  // Each at least 4.5:1 behind white text.
  var colour = {
    minor: "#8a5a00",
    major: "#b34700",
    critical: "#c62828",
    maintenance: "#0b5cad",
    none: "#57606a"
  };
  var rank = { none: 0, maintenance: 0, minor: 1, major: 2, critical: 3 };
  var states = {
    major_outage: ["Major outage: ", "critical", 3],
    partial_outage: ["Partial outage: ", "major", 2],
    degraded_performance: ["Degraded: ", "minor", 1],
    under_maintenance: ["Maintenance: ", "maintenance", 0]
  };
  var box = null;
  var timer = null;
  var busy = false;

  // The worst unresolved incident, else the worst component not operational.
  function worst(summary) {
    var best = null;
    (summary.incidents || []).forEach(function (i) {
      if (i.status === "resolved" || i.status === "postmortem") return;
      var r = rank[i.impact] || 0;
      if (!best || r > best.r) best = { r: r, text: i.name, impact: i.impact };
    });
    if (best) return best;
    (summary.components || []).forEach(function (c) {
      var s = states[c.status];
      if (c.group || !s) return;
      if (!best || s[2] > best.r) best = { r: s[2], text: s[0] + c.name, impact: s[1] };
    });
    return best;
  }

  function show(w) {
    if (!box) {
      box = document.createElement("div");
      box.id = "tocsin-status-widget";
      box.setAttribute("role", "status");
      box.style.cssText =
        "position:fixed;right:16px;bottom:16px;z-index:2147483647;max-width:calc(100% - 32px);" +
        "border-radius:6px;box-shadow:0 2px 8px rgba(0,0,0,.3);font:600 14px/1.4 system-ui,sans-serif";
      var link = document.createElement("a");
      link.href = page;
      link.target = "_blank";
      link.rel = "noopener";
      link.style.cssText = "display:block;padding:10px 14px;color:#fff;text-decoration:none";
      box.appendChild(link);
      document.body.appendChild(box);
    }
    box.firstChild.textContent = w.text;
    box.style.background = colour[w.impact] || colour.minor;
  }

  function hide() {
    if (box && box.parentNode) box.parentNode.removeChild(box);
    box = null;
  }

  function check() {
    if (busy || document.hidden) return;
    busy = true;
    // no-cache: revalidate every time, with the ETag the browser kept.
    fetch(page + "/api/v2/summary.json", { cache: "no-cache", credentials: "omit" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (summary) {
        var w = worst(summary);
        if (w) show(w);
        else hide();
      })
      .catch(function () {
        // Keep what is shown; the next check tries again.
      })
      .then(function () {
        busy = false;
      });
  }

  function start() {
    if (timer || document.hidden) return;
    check();
    timer = setInterval(check, every);
  }

  function stop() {
    clearInterval(timer);
    timer = null;
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) stop();
    else start();
  });
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
