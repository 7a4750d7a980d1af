// The detector page's rehearsal: each series drawn by charts.js (VigilCharts.render, the same axes,
// threshold lines and resizing as every Vigil chart) with the alerts as bands in two lanes at the
// top of the plot: actually raised above, rehearsed below, each faintly shading the plot too.
(function () {
  "use strict";

  var charts = window.VigilCharts;
  var source = document.getElementById("rehearsal-data");
  if (!charts || !source) return;
  var all = JSON.parse(source.textContent);

  function lanes(bands) {
    return function (u) {
      var b = u.bbox, ctx = u.ctx, px = uPlot.pxRatio, lane = 7 * px;
      [["actual", "--chart-actual", 0], ["rehearsed", "--chart-rehearsed", 1]].forEach(function (kind) {
        var colour = charts.cssVar(kind[1]);
        (bands[kind[0]] || []).forEach(function (band) {
          var x0 = Math.max(b.left, u.valToPos(band[0], "x", true));
          var x1 = Math.min(b.left + b.width, u.valToPos(band[1], "x", true));
          if (x1 < b.left || x0 > b.left + b.width) return;
          var w = Math.max(2 * px, x1 - x0);
          ctx.save();
          ctx.fillStyle = colour;
          ctx.globalAlpha = 0.08;
          ctx.fillRect(x0, b.top, w, b.height);
          ctx.globalAlpha = 0.9;
          ctx.fillRect(x0, b.top + kind[2] * (lane + px), w, lane);
          ctx.restore();
        });
      });
    };
  }

  function extend(data) {
    return function (opts) {
      opts.hooks.draw.push(lanes(data.bands || {}));
      opts.series.forEach(function (s) {  // the bound being replaced is drawn muted
        if (s.label && s.label.indexOf("configured") === 0) s.stroke = charts.cssVar("--chart-axis");
      });
    };
  }

  document.querySelectorAll("[data-rehearsal-chart]").forEach(function (box) {
    var data = all[Number(box.getAttribute("data-rehearsal-chart"))];
    if (!data || !data.t.length) { box.textContent = "No points in the period."; return; }
    charts.render(box, data, extend(data));
  });
})();
