// Silence form: preview, as matchers are typed, which open alerts the silence would match.
// Data goes into the page through textContent only, never as HTML.
(function () {
  "use strict";
  var form = document.getElementById("silence-form");
  if (!form || !window.fetch) return;
  var list = document.getElementById("preview-list");
  var count = document.getElementById("preview-count");
  var status = document.getElementById("preview-status");
  var timer = null;
  var seq = 0;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function query() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (key.indexOf("m_") === 0) params.append(key, value);
    });
    return params.toString();
  }

  function render(data) {
    list.replaceChildren.apply(list, (data.items || []).map(function (a) {
      var li = el("li");
      var link = el("a");
      link.href = a.url;
      link.appendChild(el("span", "chip sev-" + a.severity, a.severity));
      link.appendChild(el("strong", "", a.detector));
      var labels = el("span", "labels");
      Object.keys(a.labels || {}).sort().forEach(function (k) {
        var chip = el("span", "label");
        chip.appendChild(el("span", "k", k));
        chip.appendChild(document.createTextNode("="));
        chip.appendChild(el("span", "v", a.labels[k]));
        labels.appendChild(chip);
      });
      link.appendChild(labels);
      li.appendChild(link);
      return li;
    }));
    count.textContent = String(data.total) + (data.complete ? "" : "+");
    var shown = (data.items || []).length;
    var text = data.total === 0 ? "No open alert matches." :
      data.total + " open alert" + (data.total === 1 ? "" : "s") + " match" + (data.total === 1 ? "es" : "") +
      (shown < data.total ? " (newest " + shown + " shown)" : "") + ".";
    status.textContent = data.allowed ? text : text + " You cannot create it: " + data.reason + ".";
    status.className = data.allowed ? "small" : "small error-text";
  }

  function refresh() {
    var mine = ++seq;
    fetch(form.getAttribute("data-preview") + "?" + query(), {credentials: "same-origin",
                                                              headers: {Accept: "application/json"}})
      .then(function (r) {
        return r.json().then(function (body) { return {ok: r.ok, body: body}; });
      })
      .then(function (res) {
        if (mine !== seq) return;  // a newer preview is on its way
        if (!res.ok) {
          list.replaceChildren();
          count.textContent = "!";
          status.textContent = res.body.message || "cannot preview";
          status.className = "small error-text";
          return;
        }
        render(res.body);
      })
      .catch(function (err) { status.textContent = "preview failed (" + err.message + ")"; });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 250);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  refresh();
})();
