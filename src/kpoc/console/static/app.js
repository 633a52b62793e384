/* Progressive enhancement for kpoc's console: every page works without this file. */
(function () {
  "use strict";

  function getJSON(url) {
    return fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }

  // Live messages/s from watermark deltas (the chart only: the page's cards and table are one
  // snapshot, taken when the page was rendered).
  function rateChart(box) {
    var url = box.getAttribute("data-rate-chart");
    var every = parseInt(box.getAttribute("data-interval"), 10) || 2000;
    var prev = null, points = [];
    function tick() {
      getJSON(url).then(function (w) {
        if (prev) {
          var dt = w.time - prev.time;
          if (dt > 0) { points.push([w.time, Math.max(w.high_sum - prev.high_sum, 0) / dt]); }
          if (points.length > 150) { points.shift(); }
        }
        prev = w;
        window.kpocChart.draw(box, points, {label: "msgs/s", unit: "/s"});
      }).catch(function () { box.setAttribute("data-error", "1"); });
    }
    window.kpocChart.draw(box, [], {});
    tick();
    setInterval(tick, every);
  }

  // A consumer group's sampled lag, from the samples the page was rendered with (the page
  // refreshes itself, so the chart, the cards and the tables always show the same moment).
  function lagChart(box) {
    var pts = [];
    try { pts = JSON.parse(box.getAttribute("data-samples") || "[]"); } catch (e) { pts = []; }
    window.kpocChart.draw(box, pts, {label: "lag", unit: " msgs"});
  }

  // Timestamps: the page says UTC; add the browser's local time under each.
  function localTimes(root) {
    root.querySelectorAll("time[data-ms]").forEach(function (t) {
      if (t.nextElementSibling && t.nextElementSibling.className === "local") { return; }
      var d = new Date(parseInt(t.getAttribute("data-ms"), 10));
      var s = document.createElement("span");
      s.className = "local";
      s.textContent = d.toLocaleString(undefined, {hour12: false, timeZoneName: "short"}) +
        "." + String(d.getMilliseconds()).padStart(3, "0");
      t.insertAdjacentElement("afterend", s);
    });
  }

  // Live tail: poll the API from the end of the topic (as the page saw it) and list what
  // arrives, newest on top; the API's 'resume' cursor makes every message appear once.
  function tail(box) {
    box.hidden = false;
    var toggle = box.querySelector("#tail-toggle"), list = box.querySelector("#tail");
    var cursor = box.getAttribute("data-tail-from"), timer = null, busy = false;
    var here = new URLSearchParams(location.search);
    function tick() {
      if (busy) { return; }
      busy = true;
      var q = new URLSearchParams({mode: "oldest", count: "200", after: cursor});
      ["partition", "q", "regex", "field"].forEach(function (k) {
        if (here.get(k)) { q.set(k, here.get(k)); }
      });
      getJSON(box.getAttribute("data-tail-url") + "?" + q.toString()).then(function (r) {
        if (r.resume) { cursor = r.resume; }
        r.messages.forEach(function (m) {
          var li = document.createElement("li");
          var value = m.value === null ? "null (tombstone)" :
            (m.value_encoding === "base64" ? "[base64] " : "") + m.value.slice(0, 300);
          li.textContent = "p" + m.partition + " @" + m.offset + " · " +
            (m.timestamp !== null ? new Date(m.timestamp).toISOString() : "—") + " · key " +
            (m.key === null ? "null" : m.key.slice(0, 100)) + " → " + value;
          list.insertBefore(li, list.firstChild);
        });
        while (list.children.length > 200) { list.removeChild(list.lastChild); }
        box.removeAttribute("data-error");
      }).catch(function () { box.setAttribute("data-error", "1"); })
        .then(function () { busy = false; });
    }
    toggle.addEventListener("change", function () {
      if (toggle.checked) { tick(); timer = setInterval(tick, 2000); } else { clearInterval(timer); }
    });
  }

  // "copy": the message as kpoc's JSON envelope (exact bytes: text or base64) to the clipboard.
  function copyButton(b) {
    if (!navigator.clipboard) { return; }
    b.hidden = false;
    b.addEventListener("click", function () {
      fetch(b.getAttribute("data-copy"), {credentials: "same-origin"})
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
        .then(function (t) { return navigator.clipboard.writeText(t.trim()); })
        .then(function () { b.textContent = "copied"; },
              function () { b.textContent = "copy failed"; });
    });
  }

  function enhance(root) {
    root.querySelectorAll("[data-lag-chart], [data-samples]").forEach(lagChart);
    localTimes(root);
  }

  // Re-render a live section in place (the overview, a group) without a full reload.
  function autoRefresh(node) {
    var every = Math.max(parseInt(node.getAttribute("data-autorefresh"), 10) || 5000, 1000);
    setInterval(function () {
      fetch(node.getAttribute("data-refresh-url") || location.href, {credentials: "same-origin"}).then(function (r) {
        return r.text().then(function (t) { return {ok: r.ok, text: t}; });
      }).then(function (res) {
        var doc = new DOMParser().parseFromString(res.text, "text/html");
        var fresh = doc.getElementById(node.id);
        if (fresh) {
          node.replaceChildren.apply(node, Array.from(fresh.childNodes));
          enhance(node);
          return;
        }
        // Kafka did not answer this time (e.g. a broker just died): keep the last view, say so,
        // and try again on the next tick.
        var msg = doc.querySelector("#error .message");
        stale(node, "Live refresh failed" + (msg ? ": " + msg.textContent : "") +
                    " — showing the last good view; retrying.");
      }).catch(function () { stale(node, "Live refresh failed (console unreachable); retrying."); });
    }, every);
  }

  function stale(node, text) {
    var p = document.getElementById("refresh-error");
    if (!p) {
      p = document.createElement("p");
      p.id = "refresh-error";
      p.className = "flash error";
      node.insertBefore(p, node.firstChild);
    }
    p.textContent = text;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-rate-chart]").forEach(rateChart);
    enhance(document);
    document.querySelectorAll("[data-autorefresh]").forEach(autoRefresh);
    document.querySelectorAll("[data-tail-url]").forEach(tail);
    document.querySelectorAll("button[data-copy]").forEach(copyButton);
    document.querySelectorAll("form").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        var ask = (e.submitter && e.submitter.getAttribute("data-confirm")) ||
                  f.getAttribute("data-confirm");
        if (ask && !window.confirm(ask)) { e.preventDefault(); }
      });
    });
  });
})();
