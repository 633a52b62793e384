/* kpoc's tiny line chart: SVG, no dependencies, no inline styles (CSP-friendly).
   kpocChart.draw(container, points, {label, unit})  points: [[unixSeconds, value], ...] */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var W = 640, H = 180, L = 56, R = 12, T = 12, B = 26;

  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function fmt(v) {
    if (v >= 1e6) { return (v / 1e6).toFixed(1) + "M"; }
    if (v >= 1e4) { return (v / 1e3).toFixed(0) + "k"; }
    if (v >= 100) { return v.toFixed(0); }
    return (Math.round(v * 10) / 10).toString();
  }

  function clock(t) {
    var d = new Date(t * 1000);
    return d.toISOString().substr(11, 8);
  }

  function draw(container, points, opts) {
    opts = opts || {};
    var svg = el("svg", {viewBox: "0 0 " + W + " " + H, "class": "kchart", role: "img",
                         "aria-label": opts.label || "chart"});
    var pw = W - L - R, ph = H - T - B;
    svg.appendChild(el("rect", {x: L, y: T, width: pw, height: ph, "class": "kchart-bg"}));
    if (!points.length) {
      svg.appendChild(el("text", {x: L + pw / 2, y: T + ph / 2, "text-anchor": "middle",
                                  "class": "kchart-empty"}, opts.empty || "collecting samples…"));
    } else {
      var t0 = points[0][0], t1 = points[points.length - 1][0];
      if (t1 === t0) { t1 = t0 + 1; }
      var vmax = 0;
      points.forEach(function (p) { if (p[1] > vmax) { vmax = p[1]; } });
      if (vmax <= 0) { vmax = 1; }
      vmax = vmax * 1.1;
      var x = function (t) { return L + (t - t0) / (t1 - t0) * pw; };
      var y = function (v) { return T + ph - v / vmax * ph; };
      [0, 0.5, 1].forEach(function (f) {
        var yy = T + ph - f * ph;
        svg.appendChild(el("line", {x1: L, x2: L + pw, y1: yy, y2: yy, "class": "kchart-grid"}));
        svg.appendChild(el("text", {x: L - 6, y: yy + 4, "text-anchor": "end",
                                    "class": "kchart-label"}, fmt(vmax * f)));
      });
      svg.appendChild(el("text", {x: L, y: H - 6, "class": "kchart-label"}, clock(t0)));
      svg.appendChild(el("text", {x: L + pw, y: H - 6, "text-anchor": "end",
                                  "class": "kchart-label"}, clock(t1)));
      var d = points.map(function (p, i) {
        return (i ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1);
      }).join(" ");
      svg.appendChild(el("path", {d: d + " L" + x(t1).toFixed(1) + " " + (T + ph) + " L" +
                                  x(t0).toFixed(1) + " " + (T + ph) + " Z", "class": "kchart-area"}));
      svg.appendChild(el("path", {d: d, "class": "kchart-line"}));
      var last = points[points.length - 1];
      svg.appendChild(el("circle", {cx: x(last[0]), cy: y(last[1]), r: 3, "class": "kchart-dot"}));
      svg.appendChild(el("text", {x: L + pw / 2, y: H - 6, "text-anchor": "middle",
                                  "class": "kchart-value"},
                         (opts.label ? opts.label + ": " : "") + fmt(last[1]) + (opts.unit || "")));
    }
    container.replaceChildren(svg);
  }

  window.kpocChart = {draw: draw};
})();
