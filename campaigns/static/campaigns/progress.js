/* Campaign pages: the progress bar and the report's numbers refresh themselves from small JSON
   endpoints of the admin while there is something to watch. Plain JavaScript, no library. */
(function () {
  "use strict";
  var PROGRESS_EVERY = 2000;
  var NUMBERS_EVERY = 5000;

  function getJson(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      });
  }

  function setText(root, selector, value) {
    var node = root.querySelector(selector);
    if (node) { node.textContent = value; }
  }

  function watchProgress(box) {
    var url = box.getAttribute("data-url");
    function tick() {
      getJson(url).then(function (data) {
        var bar = box.querySelector(".campaign-bar span");
        if (bar) { bar.style.width = data.percent + "%"; }
        box.querySelector(".campaign-bar").setAttribute("aria-valuenow", data.done);
        setText(box, ".campaign-sent", data.sent);
        setText(box, ".campaign-of", data.total);
        setText(box, ".campaign-failed", data.failed);
        setText(box, ".campaign-skipped", data.skipped);
        setText(box, ".campaign-held-out", data.held_out);
        setText(box, ".campaign-queued", data.queued);
        setText(box, ".campaign-rate", Number(data.rate || 0).toFixed(1));
        var status = document.querySelector(".campaign-status");
        if (status && status.getAttribute("data-status") !== data.status) {
          window.location.reload();  // the buttons change with the status
          return;
        }
        if (data.live) { window.setTimeout(tick, PROGRESS_EVERY); }
      }).catch(function () { window.setTimeout(tick, PROGRESS_EVERY * 5); });
    }
    window.setTimeout(tick, PROGRESS_EVERY);
  }

  function watchNumbers(table) {
    var url = table.getAttribute("data-url");
    function tick() {
      getJson(url).then(function (data) {
        Object.keys(data.numbers).forEach(function (key) {
          setText(table, '[data-key="' + key + '"]', data.numbers[key]);
        });
        window.setTimeout(tick, NUMBERS_EVERY);
      }).catch(function () { window.setTimeout(tick, NUMBERS_EVERY * 5); });
    }
    window.setTimeout(tick, NUMBERS_EVERY);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".campaign-progress[data-live='1']").forEach(watchProgress);
    document.querySelectorAll(".campaign-stats[data-url]").forEach(watchNumbers);
  });
})();
