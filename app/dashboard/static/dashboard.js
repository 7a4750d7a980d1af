// Vigil dashboard: refresh the "firing now" panel without reloading the page.
// Data goes into the page through textContent only, never as HTML.
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function labelChips(labels) {
    var wrap = el("span", "labels");
    Object.keys(labels || {}).sort().forEach(function (key) {
      var chip = el("span", "label");
      chip.appendChild(el("span", "k", key));
      chip.appendChild(document.createTextNode("="));
      chip.appendChild(el("span", "v", labels[key]));
      wrap.appendChild(chip);
    });
    return wrap;
  }

  function renderFiring(panel, data) {
    var list = panel.querySelector("#firing-list");
    var items = data.items || [];
    list.replaceChildren.apply(list, items.map(function (a) {
      var li = el("li");
      var link = el("a");
      link.href = a.url;
      link.appendChild(el("span", "chip sev-" + a.severity, a.severity));
      link.appendChild(el("strong", "", a.detector));
      link.appendChild(labelChips(a.labels));
      if (a.acked) link.appendChild(el("span", "chip state-acked", "acked"));
      link.appendChild(el("span", "muted", "for " + a.duration));
      li.appendChild(link);
      return li;
    }));
    panel.querySelector("#firing-count").textContent = String(items.length);
    panel.querySelector("#firing-empty").hidden = items.length > 0;
    panel.querySelector("#firing-updated").textContent = "updated " + new Date().toISOString().slice(11, 19) + "Z";
  }

  function startFiringRefresh(panel) {
    var every = Math.max(5, parseInt(panel.getAttribute("data-refresh-s"), 10) || 15) * 1000;
    var src = panel.getAttribute("data-src");
    function tick() {
      if (document.hidden) return;  // no polling from a background tab
      fetch(src, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (r) {
          if (r.status === 401) { window.location.reload(); throw new Error("signed out"); }
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (data) { renderFiring(panel, data); })
        .catch(function (err) {
          panel.querySelector("#firing-updated").textContent = "refresh failed (" + err.message + ")";
        });
    }
    window.setInterval(tick, every);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) tick(); });
  }

  var panel = document.getElementById("firing");
  if (panel && window.fetch) startFiringRefresh(panel);
})();
