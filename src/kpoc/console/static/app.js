/* Progressive enhancement for kpoc's console: every page works without this file. */
(function () {
  "use strict";

  function getJSON(url) {
    return fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }

  // Live messages/s from watermark deltas.
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
        var n = document.getElementById("message-count");
        if (n) { n.textContent = w.messages; }
        window.kpocChart.draw(box, points, {label: "msgs/s", unit: "/s"});
      }).catch(function () { box.setAttribute("data-error", "1"); });
    }
    window.kpocChart.draw(box, [], {});
    tick();
    setInterval(tick, every);
  }

  // Sampled lag history of a consumer group.
  function lagChart(box) {
    var url = box.getAttribute("data-lag-chart");
    var every = Math.max(parseInt(box.getAttribute("data-interval"), 10) || 5000, 1000);
    function tick() {
      getJSON(url).then(function (h) {
        var pts = h.samples.map(function (s) { return [s.time, s.lag]; });
        window.kpocChart.draw(box, pts, {label: "lag", unit: " msgs"});
      }).catch(function () { box.setAttribute("data-error", "1"); });
    }
    tick();
    setInterval(tick, every);
  }

  // Re-render a live section in place (the overview) without a full reload.
  function autoRefresh(node) {
    var every = parseInt(node.getAttribute("data-autorefresh"), 10) || 5000;
    setInterval(function () {
      fetch(location.href, {credentials: "same-origin"}).then(function (r) {
        return r.text().then(function (t) { return {ok: r.ok, text: t}; });
      }).then(function (res) {
        var doc = new DOMParser().parseFromString(res.text, "text/html");
        var fresh = doc.getElementById(node.id);
        if (fresh) { node.replaceChildren.apply(node, Array.from(fresh.childNodes)); }
        else if (!res.ok) { location.reload(); }
      }).catch(function () {});
    }, every);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-rate-chart]").forEach(rateChart);
    document.querySelectorAll("[data-lag-chart]").forEach(lagChart);
    document.querySelectorAll("[data-autorefresh]").forEach(autoRefresh);
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
      });
    });
  });
})();
