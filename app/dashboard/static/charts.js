// Vigil charts on uPlot: the evidence window with its threshold, change points and the
// levels before and after the last change point, on a UTC time axis.
(function () {
  "use strict";

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function finite(x) { return typeof x === "number" && isFinite(x); }

  // Shade the regime before and after the last change point (under the series).
  function shade(data) {
    return function (u) {
      var cps = (data.change_points || []).filter(finite);
      if (!cps.length || !data.t.length) return;
      var b = u.bbox, last = cps[cps.length - 1];
      var start = cps.length > 1 ? cps[cps.length - 2] : data.t[0];
      var x0 = Math.max(b.left, u.valToPos(start, "x", true));
      var x1 = Math.min(b.left + b.width, Math.max(b.left, u.valToPos(last, "x", true)));
      var x2 = b.left + b.width;
      u.ctx.save();
      u.ctx.fillStyle = cssVar("--chart-before");
      u.ctx.fillRect(x0, b.top, x1 - x0, b.height);
      u.ctx.fillStyle = cssVar("--chart-after");
      u.ctx.fillRect(x1, b.top, x2 - x1, b.height);
      u.ctx.restore();
    };
  }

  // Change points as vertical lines and the two levels as dashed segments (over the series).
  function mark(data) {
    return function (u) {
      var cps = (data.change_points || []).filter(finite);
      if (!cps.length) return;
      var b = u.bbox, ctx = u.ctx, px = uPlot.pxRatio;
      var last = cps[cps.length - 1], start = cps.length > 1 ? cps[cps.length - 2] : data.t[0];
      ctx.save();
      ctx.strokeStyle = cssVar("--chart-cp");
      ctx.lineWidth = 2 * px;
      cps.forEach(function (cp) {
        var x = u.valToPos(cp, "x", true);
        if (x < b.left || x > b.left + b.width) return;
        ctx.beginPath(); ctx.moveTo(x, b.top); ctx.lineTo(x, b.top + b.height); ctx.stroke();
      });
      ctx.setLineDash([3 * px, 3 * px]);
      ctx.lineWidth = 1.5 * px;
      [[data.before, start, last], [data.after, last, data.t[data.t.length - 1]]].forEach(function (seg) {
        if (!finite(seg[0])) return;
        var y = u.valToPos(seg[0], "y", true);
        ctx.beginPath();
        ctx.moveTo(Math.max(b.left, u.valToPos(seg[1], "x", true)), y);
        ctx.lineTo(Math.min(b.left + b.width, u.valToPos(seg[2], "x", true)), y);
        ctx.stroke();
      });
      ctx.restore();
    };
  }

  // [x, y] axes in the page's colours; x has 24-hour UTC ticks, like every other time on
  // the page, with the date only when it changes.
  function axes() {
    var axis = {stroke: cssVar("--chart-axis"), grid: {stroke: cssVar("--chart-grid"), width: 1},
                ticks: {stroke: cssVar("--chart-grid"), width: 1}};
    var xAxis = Object.assign({}, axis, {values: function (u, splits) {
      var lastDay = "";
      return splits.map(function (ts) {
        var iso = new Date(ts * 1e3).toISOString(), day = iso.slice(5, 10);
        var label = iso.slice(11, 16) + (day !== lastDay ? "\n" + day : "");
        lastDay = day;
        return label;
      });
    }});
    return [xAxis, axis];
  }

  function utc(ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }

  // Redraw at the container's width when it changes (a phone turned, a window resized).
  function follow(container, plot, height) {
    if (!window.ResizeObserver) return;
    new ResizeObserver(function () {
      var w = Math.max(280, container.clientWidth);
      if (Math.abs(w - plot.width) > 2) plot.setSize({width: w, height: height(w)});
    }).observe(container);
  }

  function options(data, width) {
    var series = [{}, {label: data.title || "value", stroke: cssVar("--chart-line"), width: 1.5,
                       points: {show: false}}];
    (data.thresholds || []).forEach(function (line) {
      series.push({label: line.label, stroke: cssVar("--chart-threshold"), width: 1.5, dash: [6, 4],
                   points: {show: false}});
    });
    return {
      width: width, height: height(width), series: series, axes: axes(), tzDate: utc,
      cursor: {drag: {x: true, y: false}},
      hooks: {drawClear: [shade(data)], draw: [mark(data)]}
    };
  }

  function height(width) { return width < 500 ? 220 : 280; }

  function columns(data) {
    var cols = [data.t, data.v.map(function (v) { return finite(v) ? v : null; })];
    (data.thresholds || []).forEach(function (line) {
      cols.push(data.t.map(function () { return line.value; }));
    });
    return cols;
  }

  // `extend(opts)` may add hooks or restyle series before the plot is made (rehearsal.js does).
  function render(container, data, extend) {
    container.replaceChildren();
    var width = Math.max(280, container.clientWidth || 600);
    var opts = options(data, width);
    if (extend) extend(opts);
    var plot = new uPlot(opts, columns(data), container);
    follow(container, plot, height);
    return plot;
  }

  function previewHeading(finding) {
    var h = document.createElement("h3");
    var state = document.createElement("span");
    state.className = "chip state-" + (finding.state === "ok" ? "resolved" : finding.state);
    state.textContent = finding.state;
    h.appendChild(state);
    var keys = Object.keys(finding.labels || {}).sort();
    h.appendChild(document.createTextNode(" " + (keys.length ? keys.map(function (k) {
      return k + "=" + finding.labels[k];
    }).join(" ") : "series") + " — " + finding.message));
    return h;
  }

  function preview(button) {
    var status = document.getElementById("preview-status");
    var target = document.getElementById("preview-charts");
    status.textContent = "Fetching " + button.getAttribute("data-name") + "…";
    target.replaceChildren();
    fetch(button.getAttribute("data-preview"), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
      .then(function (res) {
        var d = res.body;
        if (!res.ok || d.error) {
          status.textContent = d.detector + ": " + (d.error || d.message || "preview failed");
          return;
        }
        status.textContent = d.detector + ": " + d.series + " series, " + d.points + " points, analysed in " +
          Math.round(d.duration_s * 1000) + " ms" + (d.findings.length < d.series ? " (first " + d.findings.length + " shown)" : "") + ".";
        d.findings.forEach(function (f) {
          target.appendChild(previewHeading(f));
          var box = document.createElement("div");
          box.className = "chart";
          target.appendChild(box);
          if (f.chart.t.length) render(box, f.chart); else box.textContent = "No points in the window.";
        });
      })
      .catch(function (err) { status.textContent = "Preview failed: " + err.message; });
  }

  // Shared with the other charts of the dashboard (reports.js, rehearsal.js).
  window.VigilCharts = {cssVar: cssVar, finite: finite, axes: axes, utc: utc, follow: follow, height: height,
                        render: render};

  var holder = document.querySelector("[data-chart]");
  if (holder) {
    var source = document.getElementById(holder.getAttribute("data-chart"));
    render(holder, JSON.parse(source.textContent));
  }
  document.querySelectorAll("[data-preview]").forEach(function (button) {
    button.addEventListener("click", function () { preview(button); });
  });
})();
