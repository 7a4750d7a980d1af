// The alert page's suspects: one small uPlot per suspect, its change point as a vertical line
// and the levels before and after it as dashed segments (data from #suspects-data).
(function () {
  "use strict";

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function finite(x) { return typeof x === "number" && isFinite(x); }

  function mark(s) {
    return function (u) {
      var b = u.bbox, ctx = u.ctx, px = uPlot.pxRatio, at = s.change_points[0];
      var x = u.valToPos(at, "x", true), t = s.t;
      ctx.save();
      ctx.strokeStyle = cssVar("--chart-cp");
      ctx.lineWidth = 2 * px;
      if (x >= b.left && x <= b.left + b.width) {
        ctx.beginPath(); ctx.moveTo(x, b.top); ctx.lineTo(x, b.top + b.height); ctx.stroke();
      }
      ctx.setLineDash([3 * px, 3 * px]);
      ctx.lineWidth = 1.5 * px;
      [[s.before, t[0], at], [s.after, at, t[t.length - 1]]].forEach(function (seg) {
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

  function draw(box, s) {
    var axis = {stroke: cssVar("--chart-axis"), grid: {stroke: cssVar("--chart-grid"), width: 1}, size: 40,
                ticks: {show: false}};
    var xAxis = Object.assign({}, axis, {values: function (u, splits) {
      return splits.map(function (ts) { return new Date(ts * 1e3).toISOString().slice(11, 16); });
    }});
    var opts = {
      width: Math.max(240, box.clientWidth || 260), height: 130, legend: {show: false},
      series: [{}, {stroke: cssVar("--chart-line"), width: 1.25, points: {show: false}}],
      axes: [xAxis, axis], cursor: {show: false}, hooks: {draw: [mark(s)]}
    };
    box.replaceChildren();
    return new uPlot(opts, [s.t, s.v.map(function (v) { return finite(v) ? v : null; })], box);
  }

  var source = document.getElementById("suspects-data");
  if (!source) return;
  var suspects = JSON.parse(source.textContent);
  document.querySelectorAll("[data-suspect]").forEach(function (box) {
    draw(box, suspects[Number(box.getAttribute("data-suspect"))]);
  });
})();
