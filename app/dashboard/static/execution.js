// A queued or running execution's page: append the script's output as it arrives (the
// runner stores it about once a second), then reload once the run has ended to show its
// exit status. Text goes in through textContent only.
(function () {
  "use strict";
  var pre = document.getElementById("live-output");
  var status = document.getElementById("live-status");
  if (!pre || !window.fetch) return;
  var offset = parseInt(pre.getAttribute("data-offset"), 10) || 0;
  var EVERY_MS = 1000;

  function atBottom() { return pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24; }

  function show(data) {
    var follow = atBottom();
    if (data.reset) pre.textContent = data.text; else if (data.text) pre.append(data.text);
    offset = data.offset;
    if (follow) pre.scrollTop = pre.scrollHeight;  // keep following unless the reader scrolled up
    status.textContent = data.done ? "Finished: " + data.state.replace(/_/g, " ") + "." :
      (data.state === "running" ? "Running" : "Waiting to run") + " · updated " + new Date().toISOString().slice(11, 19) + "Z";
  }

  function tick() {
    if (document.hidden) { window.setTimeout(tick, EVERY_MS); return; }  // no polling from a background tab
    fetch(pre.getAttribute("data-src") + "?offset=" + offset, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error("signed out"); }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) {
        show(data);
        if (data.done) window.setTimeout(function () { window.location.reload(); }, 1500);
        else window.setTimeout(tick, data.state === "running" ? EVERY_MS : EVERY_MS * 5);  // waiting: check less often
      })
      .catch(function (err) {
        status.textContent = "Refresh failed (" + err.message + "); retrying.";
        window.setTimeout(tick, EVERY_MS * 5);
      });
  }
  window.setTimeout(tick, EVERY_MS);
})();
