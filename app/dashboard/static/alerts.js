// Alerts list: "select all" for the bulk acknowledge form, and how many are ticked.
(function () {
  "use strict";
  var all = document.getElementById("bulk-all");
  var counter = document.getElementById("bulk-count");
  if (!all || !counter) return;
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input.bulk-one"));

  function count() {
    var ticked = boxes.filter(function (b) { return b.checked; }).length;
    counter.textContent = ticked ? ticked + " selected:" : "Tick alerts to act on several at once:";
    all.checked = ticked > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }

  all.addEventListener("change", function () {
    boxes.forEach(function (b) { b.checked = all.checked; });
    count();
  });
  boxes.forEach(function (b) { b.addEventListener("change", count); });
})();
