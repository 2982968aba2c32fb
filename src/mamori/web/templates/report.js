(function () {
  "use strict";
  var search = document.getElementById("incident-search");
  var minLevel = document.getElementById("incident-level");
  var shown = document.getElementById("incident-shown");
  var incidents = Array.prototype.slice.call(document.querySelectorAll("article.incident"));

  function apply() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var level = parseInt(minLevel.value, 10) || 1;
    var count = 0;
    incidents.forEach(function (el) {
      var text = el.textContent.toLowerCase();
      var ok = parseInt(el.dataset.level, 10) >= level &&
        words.every(function (w) { return text.indexOf(w) !== -1; });
      el.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = String(count);
  }

  function toggleAll(open) {
    incidents.forEach(function (el) {
      var details = el.querySelector("details");
      if (details && !el.hidden) { details.open = open; }
    });
  }

  function openTarget() {
    var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
    var details = target ? (target.closest("details") || target.querySelector("details")) : null;
    var article = target ? target.closest("article") : null;
    if (article) { article.hidden = false; }
    if (details) { details.open = true; }
    if (target && details && target !== article) { target.scrollIntoView(); }
  }

  search.addEventListener("input", apply);
  window.addEventListener("hashchange", openTarget);
  minLevel.addEventListener("change", apply);
  document.getElementById("expand-all").addEventListener("click", function () { toggleAll(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { toggleAll(false); });
  apply();
  openTarget();
})();
