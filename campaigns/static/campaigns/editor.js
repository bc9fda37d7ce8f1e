/* The mail editor: Ace over the HTML field (Hebrew lines right to left, the source untouched), a live
   preview that follows the typing, desktop and mobile widths, preview as a member
   of a segment, and the block builder. Plain JavaScript; every text from the server is set with
   textContent, the mail itself goes into a sandboxed frame that runs no script. */
(function () {
  "use strict";
  var DELAY = 400;

  function $(selector, root) { return (root || document).querySelector(selector); }

  function field(name) { return document.querySelector("#emailtemplate_form [name='" + name + "']"); }

  /* Each line reads in its own direction: one whose text (markup and template code aside) starts with a
     Hebrew or Arabic letter is shown right to left. Ace marks such a line with an invisible RLE
     character at its start; the marks live only in the editor and are taken out of everything the
     form saves or the preview renders, so the source stays as written. */
  var RLE = "\u202b";
  var CODE = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|<[^<>]*>/g;
  var STRONG = /[A-Za-z\u00c0-\u024f\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]/;

  function source(text) { return text.split(RLE).join(""); }

  function readsRtl(line) {
    var first = source(line).replace(CODE, " ").match(STRONG);
    return !!first && first[0] >= "\u0590";
  }

  function markLines(editor) {
    var session = editor.session;
    for (var row = 0; row < session.getLength(); row++) {
      var line = session.getLine(row), marked = line.charAt(0) === RLE, wanted = readsRtl(line);
      if (wanted && !marked) { session.insert({row: row, column: 0}, RLE); }
      if (marked && !wanted) { session.remove({start: {row: row, column: 0}, end: {row: row, column: 1}}); }
    }
  }

  function startAce(textarea) {
    if (typeof ace === "undefined") { return null; }
    var box = document.createElement("div");
    box.className = "mail-code-editor";
    box.setAttribute("dir", "ltr");
    textarea.parentNode.insertBefore(box, textarea);
    textarea.hidden = true;
    var editor = ace.edit(box);
    editor.session.setMode("ace/mode/django");
    editor.setOptions({
      useWorker: false, wrap: true, showPrintMargin: false, fontSize: "13px", minLines: 18, maxLines: 40,
      rtlText: true
    });
    editor.session.setValue(textarea.value);
    markLines(editor);
    editor.session.getUndoManager().reset();
    var marking = false, timer = null;
    editor.session.on("change", function () {
      textarea.value = source(editor.getValue());
      if (marking) { return; }
      clearTimeout(timer);
      timer = setTimeout(function () { marking = true; markLines(editor); marking = false; }, 150);
    });
    editor.sourceValue = function () { return source(editor.getValue()); };
    return editor;
  }

  function csrf() {
    var token = $("#emailtemplate_form [name=csrfmiddlewaretoken]");
    return token ? token.value : "";
  }

  function post(url, data) {
    return fetch(url, {
      method: "POST", body: data, credentials: "same-origin",
      headers: {"X-CSRFToken": csrf(), "Accept": "application/json"}
    }).then(function (response) {
      return response.json().then(function (body) { return {ok: response.ok, body: body}; });
    });
  }

  function fillList(list, items) {
    list.textContent = "";
    items.forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
  }

  function errorTexts(errors) {
    var texts = [];
    Object.keys(errors || {}).forEach(function (key) { texts = texts.concat(errors[key]); });
    return texts;
  }

  /* The frame is as tall as the mail (nothing cut, no inner scrolling) and, where the column is narrower
     than the chosen width, zoomed out to fit: the mail is still laid out at 640 or 375 pixels. */
  function fitFrame(frame) {
    var stage = frame.parentNode, width = parseInt(frame.getAttribute("data-width") || "640", 10);
    var room = stage.clientWidth - 2 * parseFloat(getComputedStyle(stage).paddingInlineStart || "0") - 2;
    frame.style.width = width + "px";
    frame.style.zoom = room > 0 && room < width ? String(room / width) : "";
    try {
      var doc = frame.contentDocument;
      frame.style.height = Math.max(doc.documentElement.scrollHeight, doc.body ? doc.body.scrollHeight : 0) + "px";
    } catch (error) { frame.style.height = "80vh"; }
  }

  function startPreview(panel, editor) {
    var frame = $(".mail-preview-frame", panel), segment = $(".mail-preview-segment", panel);
    var contactId = "", timer = null, another = false;
    frame.addEventListener("load", function () { fitFrame(frame); });
    window.addEventListener("resize", function () { fitFrame(frame); });

    function show(result) {
      var body = result.body;
      fillList($(".mail-preview-errors", panel), result.ok ? [] : errorTexts(body.errors));
      if (!result.ok) { return; }
      fillList($(".mail-preview-warnings", panel), body.warnings);
      Array.prototype.forEach.call($(".mail-preview-warnings", panel).children, function (li) { li.className = "warning"; });
      $(".mail-preview-subject", panel).textContent = body.subject;
      contactId = String(body.contact.id);
      $(".mail-preview-name", panel).textContent = body.contact.name;
      $(".mail-preview-email", panel).textContent = body.contact.email;
      $(".mail-preview-contact", panel).hidden = false;
      frame.srcdoc = body.html;
    }

    function refresh() {
      var data = new FormData($("#emailtemplate_form"));
      Array.from(data.keys()).filter(function (key) { return key.indexOf("blocks-") === 0; })
        .forEach(function (key) { data.delete(key); });
      if (editor) { data.set("html", editor.sourceValue()); }
      data.set("contact", another ? "" : contactId);
      data.set("segment", segment ? segment.value : "");
      data.set("another", another ? "1" : "");
      another = false;
      panel.setAttribute("aria-busy", "true");
      post(panel.getAttribute("data-url"), data).then(show).catch(function () {
        fillList($(".mail-preview-errors", panel), [panel.getAttribute("data-failed")]);
      }).then(function () { panel.removeAttribute("aria-busy"); });
    }

    function soon() { clearTimeout(timer); timer = setTimeout(refresh, DELAY); }

    if (editor) { editor.session.on("change", soon); }
    $("#emailtemplate_form").addEventListener("input", function (event) {
      var name = event.target.name || "";
      if (event.target !== segment && name.indexOf("blocks-") !== 0) { soon(); }
    });
    if (segment) {
      segment.addEventListener("change", function () { another = true; refresh(); });
      $(".mail-preview-another", panel).addEventListener("click", function () { another = true; refresh(); });
    }
    panel.querySelectorAll(".mail-preview-widths button").forEach(function (button) {
      button.addEventListener("click", function () {
        panel.querySelectorAll(".mail-preview-widths button").forEach(function (other) {
          other.setAttribute("aria-pressed", String(other === button));
        });
        frame.setAttribute("data-width", button.getAttribute("data-width"));
        fitFrame(frame);
        setTimeout(function () { fitFrame(frame); }, 50);
      });
    });
    refresh();
  }

  function startBlocks(box, editor) {
    var button = $(".mail-blocks-apply", box);
    button.addEventListener("click", function () {
      var data = new FormData();
      data.set("csrfmiddlewaretoken", csrf());
      box.querySelectorAll("[name^='blocks-']").forEach(function (input) { data.set(input.name, input.value); });
      post(button.getAttribute("data-url"), data).then(function (result) {
        box.querySelectorAll(".mail-blocks-error").forEach(function (list) {
          var errors = result.ok ? [] : (result.body.errors[list.getAttribute("data-for")] || []);
          fillList(list, errors);
          list.hidden = !errors.length;
        });
        if (!result.ok) { return; }
        var current = editor ? editor.sourceValue() : field("html").value;
        if (current.trim() && !window.confirm(button.getAttribute("data-confirm"))) { return; }
        if (editor) {
          editor.setValue(result.body.html, -1);
          markLines(editor);
        } else { field("html").value = result.body.html; }
        var layout = field("layout");
        if (layout) { layout.value = result.body.layout; layout.dispatchEvent(new Event("change", {bubbles: true})); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var textarea = field("html");
    if (!textarea) { return; }
    var editor = startAce(textarea);
    var panel = $("#mail-preview"), blocks = $("#mail-blocks");
    if (panel) { startPreview(panel, editor); }
    if (blocks) { startBlocks(blocks, editor); }
  });
})();
