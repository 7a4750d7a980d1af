// The reports page's charts, drawn from #report-data with the helpers charts.js shares
// (VigilCharts: page colours, UTC axes, resizing). Counts per bucket, minutes, percentages.
(function () {
  "use strict";
  var C = window.VigilCharts;
  var PALETTE = ["--chart-1", "--chart-2", "--chart-3", "--chart-4", "--chart-5", "--chart-6", "--chart-7"];
  var SEVERITY = {critical: "--red", warning: "--amber", info: "--blue"};

  function line(label, colourVar, extra) {
    return Object.assign({label: label, stroke: C.cssVar(colourVar), width: 2, points: {show: false},
                          spanGaps: false}, extra || {});
  }

  function perMinute(values) { return values.map(function (v) { return v === null ? null : v / 60; }); }
  function percent(values) { return values.map(function (v) { return v === null ? null : v * 100; }); }

  function specs(d) {
    var a = d.alerts, r = d.remediations;
    var severities = Object.keys(a.by_severity);
    var detectors = Object.keys(a.by_detector);
    return {
      severity: {series: severities.map(function (s) { return line(s, SEVERITY[s] || "--chart-7"); }),
                 data: severities.map(function (s) { return a.by_severity[s]; })},
      detector: {series: detectors.map(function (name, i) { return line(name, PALETTE[i % PALETTE.length]); }),
                 data: detectors.map(function (name) { return a.by_detector[name]; })},
      response: {series: [line("to acknowledge", "--chart-1", {points: {show: true, size: 5}}),
                          line("to resolve", "--chart-3", {points: {show: true, size: 5}})],
                 data: [perMinute(a.mtta_series), perMinute(a.mttr_series)]},
      remediation: {series: [line("succeeded", "--green", {points: {show: true, size: 5}}),
                             line("effective", "--chart-1", {points: {show: true, size: 5}})],
                    data: [percent(r.success_rate), percent(r.effectiveness_rate)], max: 100}
    };
  }

  function draw(container, spec, t) {
    var width = Math.max(280, container.clientWidth || 600);
    var axes = C.axes();
    var opts = {width: width, height: C.height(width), tzDate: C.utc, axes: axes,
                series: [{}].concat(spec.series), cursor: {drag: {x: true, y: false}},
                scales: {y: spec.max ? {range: [0, spec.max]} : {range: function (u, lo, hi) { return [0, Math.max(1, hi)]; }}}};
    container.replaceChildren();
    C.follow(container, new uPlot(opts, [t].concat(spec.data), container), C.height);
  }

  var source = document.getElementById("report-data");
  if (!source || !C) return;
  var d = JSON.parse(source.textContent);
  var all = specs(d);
  document.querySelectorAll("[data-report-chart]").forEach(function (box) {
    draw(box, all[box.getAttribute("data-report-chart")], d.t);
  });
})();
