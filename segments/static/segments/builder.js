/* Segment rule builder: rows of field / operator / value with nested ALL / ANY / NONE groups.
 * The tree is kept in the form's JSON field (#id_rules), which the server validates on save.
 * Reads the condition catalogue and picker options embedded in the page by the admin view.
 * Other pages mount it on their own rule trees as window.SegmentRuleBuilder(root, catalogue, pickers,
 * text, field, previewUrl, suggestUrl): `field` is anything with a string `value` (a textarea, or an object
 * whose setter stores the tree elsewhere). With `suggestUrl`, text values get suggestions from the data.
 * The segment page counts live: every change schedules a count 400 ms later, a newer change cancels the
 * request in flight, and the server's errors are pinned to the rows they name. */
(function () {
  "use strict";

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key.slice(0, 2) === "on") { node.addEventListener(key.slice(2), attrs[key]); }
      else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function options(select, items, current, placeholder) {
    if (placeholder !== undefined) { select.appendChild(el("option", {value: "", text: placeholder})); }
    items.forEach(function (item) {
      var opt = el("option", {value: String(item.value), text: item.label});
      if (String(current) === String(item.value)) { opt.selected = true; }
      select.appendChild(opt);
    });
    return select;
  }

  function joinPath(path, part) { return path ? path + "." + part : part; }

  /* Which suggestion list a text value draws from, if any. */
  function suggestKind(type, field) {
    if (type === "sku_list") { return "product"; }
    if (type === "category_list") { return "category"; }
    if (type === "tag") { return "tag"; }
    if ((type === "text" || type === "text_list") && (field === "city" || field === "region")) { return field; }
    return null;
  }

  function Builder(root, catalogue, pickers, text, field, previewUrl, suggestUrl) {
    this.root = root;
    this.catalogue = {};
    this.groups = [];
    var self = this;
    catalogue.forEach(function (c) {
      self.catalogue[c.field] = c;
      if (self.groups.indexOf(c.group) < 0) { self.groups.push(c.group); }
    });
    this.list = catalogue;
    this.pickers = pickers;
    this.t = text;
    this.field = field;
    this.previewUrl = previewUrl;
    this.suggestUrl = suggestUrl || null;
    this.onchange = null;
    this.tree = this.load(field.value);
  }

  /* The UI always shows a group at the top; NONE is {"not": {"any": [...]}}. */
  Builder.prototype.load = function (raw) {
    var tree;
    try { tree = raw && raw.trim() && raw.trim() !== "null" ? JSON.parse(raw) : {all: []}; }
    catch (e) { tree = {all: []}; }
    return this.toGroup(tree);
  };

  Builder.prototype.toGroup = function (node) {
    if (node.all) { return {kind: "all", children: node.all.map(this.toNode, this)}; }
    if (node.any) { return {kind: "any", children: node.any.map(this.toNode, this)}; }
    if (node.not) {
      var inner = node.not.any ? node.not.any : [node.not];
      return {kind: "none", children: inner.map(this.toNode, this)};
    }
    return {kind: "all", children: [this.toNode(node)]};
  };

  Builder.prototype.toNode = function (node) {
    return (node.all || node.any || node.not) ? this.toGroup(node) : {kind: "condition", data: node};
  };

  Builder.prototype.serialize = function (node) {
    var self = this;
    if (node.kind === "condition") { return node.data; }
    var children = node.children.map(function (c) { return self.serialize(c); });
    if (node.kind === "none") { return {not: {any: children}}; }
    var out = {};
    out[node.kind] = children;
    return out;
  };

  Builder.prototype.sync = function () {
    this.field.value = JSON.stringify(this.serialize(this.tree), null, 1);
    if (this.onchange) { this.onchange(); }
  };

  Builder.prototype.render = function () {
    this.root.textContent = "";
    this.rowCount = 0;
    this.root.appendChild(this.renderGroup(this.tree, null, ""));
    this.sync();
  };

  Builder.prototype.renderGroup = function (group, parent, path) {
    var self = this;
    var kind = options(el("select", {"class": "sb-group-kind", onchange: function (e) {
      group.kind = e.target.value; self.render();  /* the rows' paths change with the group's key */
    }}), [{value: "all", label: this.t.all}, {value: "any", label: this.t.any}, {value: "none", label: this.t.none}],
    group.kind);
    var body = el("div", {"class": "sb-children"});
    var key = group.kind === "none" ? "not.any" : group.kind;
    group.children.forEach(function (child, i) {
      var childPath = joinPath(path, key + "[" + i + "]");
      body.appendChild(child.kind === "condition" ? self.renderCondition(child, group, childPath) :
        self.renderGroup(child, group, childPath));
    });
    var buttons = el("div", {"class": "sb-buttons"}, [
      el("button", {type: "button", "class": "sb-add-condition", text: this.t.add_condition, onclick: function () {
        group.children.push({kind: "condition", data: {}}); self.render();
      }}),
      el("button", {type: "button", "class": "sb-add-group", text: this.t.add_group, onclick: function () {
        group.children.push({kind: "all", children: [{kind: "condition", data: {}}]}); self.render();
      }}),
      parent ? el("button", {type: "button", "class": "sb-remove", text: this.t.remove, onclick: function () {
        parent.children.splice(parent.children.indexOf(group), 1); self.render();
      }}) : null
    ]);
    return el("fieldset", {"class": "sb-group sb-" + group.kind}, [el("legend", {}, [kind]), body, buttons]);
  };

  Builder.prototype.fieldSelect = function (node) {
    var self = this;
    var select = el("select", {"class": "sb-field", onchange: function (e) {
      node.data = {field: e.target.value};
      var c = self.catalogue[e.target.value];
      if (c) { node.data.op = c.operators[0].op; }
      self.render();
    }});
    select.appendChild(el("option", {value: "", text: this.t.choose_field}));
    this.groups.forEach(function (groupName) {
      var optgroup = el("optgroup", {label: groupName});
      self.list.filter(function (c) { return c.group === groupName; }).forEach(function (c) {
        var opt = el("option", {value: c.field, text: c.label});
        if (node.data.field === c.field) { opt.selected = true; }
        optgroup.appendChild(opt);
      });
      select.appendChild(optgroup);
    });
    return select;
  };

  Builder.prototype.renderCondition = function (node, parent, path) {
    var self = this;
    this.rowCount += 1;
    var row = el("div", {"class": "sb-condition", "data-path": path}, [
      el("span", {"class": "sb-row-number", title: this.t.row + " " + this.rowCount, text: String(this.rowCount)}),
      this.fieldSelect(node)]);
    var c = this.catalogue[node.data.field];
    if (c) {
      var ops = c.operators.map(function (o) { return {value: o.op, label: o.label}; });
      row.appendChild(options(el("select", {"class": "sb-op", onchange: function (e) {
        node.data = {field: node.data.field, op: e.target.value};
        self.render();
      }}), ops, node.data.op));
      var op = c.operators.filter(function (o) { return o.op === node.data.op; })[0] || c.operators[0];
      row.appendChild(this.widget(op.value_type, c.choices, node.data, "value", true));
      c.extra.forEach(function (extra) {
        row.appendChild(el("label", {"class": "sb-extra"}, [
          document.createTextNode(extra.label + (extra.required ? "" : " (" + self.t.optional + ")") + " "),
          self.widget(extra.type, extra.choices, node.data, extra.key, extra.required)
        ]));
      });
    }
    row.appendChild(el("button", {type: "button", "class": "sb-remove", text: "×", title: this.t.remove,
      onclick: function () { parent.children.splice(parent.children.indexOf(node), 1); self.render(); }}));
    return row;
  };

  /* One input for a value type; writes data[key] (removed when empty and optional). */
  Builder.prototype.widget = function (type, choices, data, key, required) {
    var self = this;
    function set(value) {
      if (value === "" || value === null || (Array.isArray(value) && !value.length)) {
        if (!required || key !== "value") { delete data[key]; } else { data[key] = value; }
      } else { data[key] = value; }
      self.sync();
    }
    function number(v) { return v === "" ? "" : Number(v); }
    var current = data[key];
    var name = "sb-" + key;
    if (type === "none") { return el("span"); }
    if (type === "bool") {
      if (current === undefined && required) { data[key] = true; }
      return options(el("select", {"class": name, onchange: function (e) { set(e.target.value === "true"); }}),
        [{value: "true", label: this.t.yes}, {value: "false", label: this.t.no}], String(data[key]));
    }
    var pick = this.pickers[type === "category_list" ? "" : type] || choices;
    var keyType = type === "attribute_key" || type === "date_attribute_key";
    if ((type === "choice" || type === "segment" || type === "campaign" || keyType) && pick &&
        (pick.length || !keyType)) {
      var single = options(el("select", {"class": name, onchange: function (e) {
        var v = e.target.value;
        set(type === "segment" || type === "campaign" ? (v ? Number(v) : "") : v);
      }}), pick, current, required ? undefined : "—");
      if (current === undefined && required && pick.length) { set(type === "segment" || type === "campaign" ?
        Number(pick[0].value) : pick[0].value); }
      return single;
    }
    if ((type === "choice_list" || type === "category_list") && choices) {
      var multi = options(el("select", {"class": name, multiple: "multiple", size: Math.min(6, choices.length),
        onchange: function (e) {
          set(Array.prototype.filter.call(e.target.options, function (o) { return o.selected; })
            .map(function (o) { return o.value; }));
        }}), choices, null);
      Array.prototype.forEach.call(multi.options, function (o) {
        o.selected = Array.isArray(current) && current.indexOf(o.value) >= 0;
      });
      return multi;
    }
    var score = type === "score" || type === "score_range";  /* RFM scores: whole numbers 1-5 */
    if (type === "int_range" || type === "number_range" || type === "score_range") {
      var pair = Array.isArray(current) ? current.slice() : ["", ""];
      var make = function (index) {
        return el("input", {type: "number", step: type === "number_range" ? "any" : "1", "class": name + "-" + index,
          min: score ? "1" : null, max: score ? "5" : null,
          value: pair[index], placeholder: index ? self.t.to : self.t.from, oninput: function (e) {
            pair[index] = number(e.target.value); set(pair.slice());
          }});
      };
      return el("span", {}, [make(0), document.createTextNode(" – "), make(1)]);
    }
    if (type === "int" || type === "number" || type === "score") {
      return el("input", {type: "number", min: type === "number" ? null : (score ? "1" : "0"),
        max: score ? "5" : null, step: type === "number" ? "any" : "1",
        "class": name, value: current === undefined ? "" : current,
        oninput: function (e) { set(number(e.target.value)); }});
    }
    if (type === "date") {
      return el("input", {type: "date", "class": name, value: current || "",
        oninput: function (e) { set(e.target.value); }});
    }
    var isList = type === "text_list" || type === "sku_list" || type === "category_list";
    var kind = this.suggestUrl && key === "value" ? suggestKind(type, data.field) : null;
    var listId = "sb-list-" + type;
    if (!kind && pick && pick.length && !document.getElementById(listId)) {
      document.body.appendChild(options(el("datalist", {id: listId}), pick, null));
    }
    var input = el("input", {type: "text", "class": name + " vTextField", list: pick && !kind ? listId : null,
      placeholder: isList ? this.t.comma : "", value: isList && Array.isArray(current) ? current.join(", ") :
        (current === undefined ? "" : current),
      oninput: function (e) {
        var v = e.target.value;
        set(isList ? v.split(",").map(function (s) { return s.trim(); }).filter(Boolean) : v);
      }});
    return kind ? this.suggest(input, kind, isList) : input;
  };

  /* Suggestions from the data as the marketer types: for a list, for the item after the last comma. */
  Builder.prototype.suggest = function (input, kind, isList) {
    this.suggestCount = (this.suggestCount || 0) + 1;
    var listId = "sb-suggest-" + this.suggestCount;
    var list = el("datalist", {id: listId, "class": "sb-suggestions"});
    var url = this.suggestUrl.replace("/kind/", "/" + kind + "/");
    var timer = null;
    var controller = null;
    input.setAttribute("list", listId);
    function load() {
      var raw = input.value;
      var cut = isList ? raw.lastIndexOf(",") : -1;
      var head = cut >= 0 ? raw.slice(0, cut + 1) + " " : "";
      if (controller) { controller.abort(); }
      controller = new AbortController();
      fetch(url + "?q=" + encodeURIComponent(raw.slice(cut + 1).trim()),
        {credentials: "same-origin", signal: controller.signal})
        .then(function (r) { return r.ok ? r.json() : {results: []}; })
        .then(function (data) {
          list.textContent = "";
          data.results.forEach(function (item) {
            list.appendChild(el("option", {value: head + item.value, label: String(item.label)}));
          });
        })
        .catch(function () { /* a newer keystroke took over, or the server is away: no suggestions */ });
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(load, 200); });
    input.addEventListener("focus", load);
    return el("span", {"class": "sb-suggest"}, [input, list]);
  };

  /* A count 400 ms after the last change; typing goes on while it waits and while it runs. */
  Builder.prototype.schedule = function (out) {
    var self = this;
    clearTimeout(this.timer);
    out.classList.add("sb-counting");
    var status = out.querySelector(".sb-status");
    if (!status) { status = el("p", {"class": "sb-status"}); out.insertBefore(status, out.firstChild); }
    status.textContent = this.t.counting;
    this.timer = setTimeout(function () { self.preview(out); }, 400);
  };

  Builder.prototype.preview = function (out) {
    var self = this;
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (this.inflight) { this.inflight.abort(); }
    var controller = new AbortController();
    this.inflight = controller;
    fetch(this.previewUrl, {method: "POST", body: this.field.value, credentials: "same-origin",
      signal: controller.signal,
      headers: {"Content-Type": "application/json", "X-CSRFToken": token ? token.value : ""}})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (self.inflight !== controller) { return; }
        self.inflight = null;
        self.showPreview(out, data);
      })
      .catch(function (e) {
        if (e.name === "AbortError" || self.inflight !== controller) { return; }
        self.inflight = null;
        out.classList.remove("sb-counting");
        out.textContent = "";
        out.appendChild(el("p", {"class": "errornote", text: self.t.unreachable}));
      });
  };

  Builder.prototype.showRowErrors = function (rows) {
    var self = this;
    Array.prototype.forEach.call(this.root.querySelectorAll(".sb-row-error"), function (n) { n.remove(); });
    Array.prototype.forEach.call(this.root.querySelectorAll(".sb-invalid"), function (n) {
      n.classList.remove("sb-invalid");
      n.removeAttribute("aria-invalid");
    });
    (rows || []).forEach(function (error) {
      if (error.row === null) { return; }
      var row = self.root.querySelector('.sb-condition[data-path="' + CSS.escape(error.path) + '"]');
      if (!row) { return; }
      row.classList.add("sb-invalid");
      row.setAttribute("aria-invalid", "true");
      row.appendChild(el("p", {"class": "sb-row-error", text: error.message}));
    });
  };

  Builder.prototype.showPreview = function (out, data) {
    out.classList.remove("sb-counting");
    out.textContent = "";
    this.showRowErrors(data.rows);
    if (data.errors) {
      /* Errors pinned to a row are shown there; the rest (the tree as a whole, bad JSON) are listed here. */
      var pinned = (data.rows || []).filter(function (e) { return e.row !== null; });
      var loose = (data.rows && data.rows.length ? data.rows.filter(function (e) { return e.row === null; })
        .map(function (e) { return e.message; }) : data.errors);
      out.appendChild(el("p", {"class": "errornote", text: pinned.length ? this.t.fix_rows : this.t.error}));
      if (loose.length) {
        out.appendChild(el("ul", {"class": "errorlist"}, loose.map(function (e) { return el("li", {text: e}); })));
      }
      return;
    }
    out.appendChild(el("p", {"class": "sb-count"}, [
      el("strong", {"class": "sb-count-number", text: String(data.count)}),
      document.createTextNode(" " + this.t.matches + " · " + this.t.took + " " + data.milliseconds + " " + this.t.ms)
    ]));
    var rows = data.contacts.map(function (c) {
      return el("tr", {}, [el("td", {}, [el("a", {href: c.url}, [el("bdi", {text: c.name || ("#" + c.id)})])]),
        el("td", {}, [el("bdi", {text: c.email})]), el("td", {text: c.city})]);
    });
    out.appendChild(el("div", {"class": "sb-table-scroll"}, [el("table", {"class": "sb-preview-table"}, [
      el("thead", {}, [el("tr", {}, [el("th", {text: this.t.name}), el("th", {text: this.t.email}),
        el("th", {text: this.t.city})])]), el("tbody", {}, rows)])]));
  };

  window.SegmentRuleBuilder = Builder;

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("segment-builder");
    var field = document.getElementById("id_rules");
    if (!root || !field) { return; }
    var builder = new Builder(root, readJSON("builder-catalogue"), readJSON("builder-options"),
      readJSON("builder-text"), field, root.getAttribute("data-preview-url"), root.getAttribute("data-suggest-url"));
    var row = field.closest(".form-row") || field.parentNode;
    row.classList.add("sb-json-row", "sb-hidden");
    var out = document.getElementById("segment-preview");
    var kind = document.getElementById("id_kind");
    builder.onchange = function () { if (!kind || kind.value !== "static") { builder.schedule(out); } };
    builder.render();
    var starters = readJSON("builder-starters") || [];
    var starter = document.getElementById("segment-starter");
    if (starter) {
      starter.addEventListener("change", function () {
        var chosen = starters.filter(function (s) { return s.key === starter.value; })[0];
        if (!chosen) { return; }
        builder.tree = builder.toGroup(JSON.parse(JSON.stringify(chosen.rules)));
        builder.render();
        var name = document.getElementById("id_name");
        if (name && !name.value) { name.value = chosen.label; }
      });
    }
    document.getElementById("segment-json-toggle").addEventListener("click", function () {
      if (row.classList.toggle("sb-hidden")) { builder.tree = builder.load(field.value); builder.render(); }
    });
    function showBuilder() {
      document.getElementById("segment-builder-box").style.display = kind && kind.value === "static" ? "none" : "";
    }
    if (kind) { kind.addEventListener("change", showBuilder); showBuilder(); }
  });
})();
