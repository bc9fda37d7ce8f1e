/* The campaign form: while segments are picked, how many the campaign will go to, counted by the server
   with the same rules as the send (a moment after the last change). The line moves into the audience
   section; without script it is simply absent. */
(function () {
  "use strict";
  var DELAY = 500;

  function chosen(name) {
    var box = document.getElementById("id_" + name + "_to");
    if (box) { return Array.prototype.map.call(box.options, function (option) { return option.value; }); }
    var select = document.getElementById("id_" + name);
    if (!select) { return []; }
    return Array.prototype.filter.call(select.options, function (o) { return o.selected; }).map(function (o) { return o.value; });
  }

  function start(line) {
    var timer = null;
    var anchor = document.getElementById("id_segments_to") || document.getElementById("id_segments");
    var section = anchor && anchor.closest("fieldset");
    if (section) { section.appendChild(line); }

    function count() {
      var query = new URLSearchParams();
      chosen("segments").forEach(function (pk) { query.append("segments", pk); });
      chosen("exclude_segments").forEach(function (pk) { query.append("exclude_segments", pk); });
      line.setAttribute("aria-busy", "true");
      fetch(line.getAttribute("data-url") + "?" + query.toString(), {
        credentials: "same-origin", headers: {"Accept": "application/json"}
      }).then(function (response) { return response.json(); })
        .then(function (data) { if (data.message) { line.textContent = data.message; } })
        .catch(function () { line.textContent = ""; })
        .then(function () { line.removeAttribute("aria-busy"); });
    }

    function soon() { clearTimeout(timer); timer = setTimeout(count, DELAY); }

    ["segments", "exclude_segments"].forEach(function (name) {
      var box = document.getElementById("id_" + name + "_to") || document.getElementById("id_" + name);
      if (!box) { return; }
      new MutationObserver(soon).observe(box, {childList: true});
      box.addEventListener("change", soon);
    });
    count();
  }

  window.addEventListener("load", function () {
    var line = document.getElementById("campaign-audience-count");
    if (line) { start(line); }
  });
})();
