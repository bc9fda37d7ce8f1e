/* Flow builder: the trigger as a small form, the steps as an ordered list (add, remove, move up and down;
 * yes/no branches hold lists of their own) and the exit rules, each kept in its JSON field of the admin
 * form, which the server validates on save. Branch and exit rules use the segment rule builder
 * (window.SegmentRuleBuilder) with the same catalogue and pickers as the segment page. The page embeds
 * the lists, the words, the server's errors by path ("steps.2.yes.0.template") and each step's numbers. */
(function () {
  "use strict";

  var BRANCHES = ["yes", "no"];
  var UNITS = ["minutes", "hours", "days"];

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined) { return; }
      if (key === "text") { node.textContent = value; }
      else if (key.slice(0, 2) === "on") { node.addEventListener(key.slice(2), value); }
      else { node.setAttribute(key, value); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function options(select, items, current, placeholder) {
    if (placeholder !== undefined) { select.appendChild(el("option", {value: "", text: placeholder})); }
    items.forEach(function (item) {
      var option = el("option", {value: String(item.value), text: item.label});
      if (current !== undefined && current !== null && String(current) === String(item.value)) {
        option.selected = true;
      }
      select.appendChild(option);
    });
    return select;
  }

  /* The server's words with their placeholders filled: "%(count)s waiting" → "3 waiting". */
  function fill(words, values) {
    return words.replace(/%\((\w+)\)s/g, function (all, name) { return String(values[name]); });
  }

  function isDigits(text) { return /^\d+$/.test(text); }

  /* "2.yes.0.template" → ["2.yes.0", "template"], as the server splits it. */
  function splitStepPath(rest) {
    var parts = rest.split(".");
    var taken = isDigits(parts[0]) ? 1 : 0;
    while (taken + 1 < parts.length && BRANCHES.indexOf(parts[taken]) >= 0 && isDigits(parts[taken + 1])) {
      taken += 2;
    }
    return [parts.slice(0, taken).join("."), parts.slice(taken).join(".")];
  }

  function stepAt(steps, path) {
    var parts = path.split(".");
    var list = steps;
    var step = null;
    for (var i = 0; i < parts.length; i += 2) {
      if (!Array.isArray(list)) { return null; }
      step = list[Number(parts[i])];
      if (!step || typeof step !== "object") { return null; }
      list = i + 1 < parts.length ? step[parts[i + 1]] : null;
    }
    return step;
  }

  function emptyGroup(tree) {
    if (!tree || typeof tree !== "object") { return true; }
    var keys = Object.keys(tree);
    if (keys.length !== 1) { return false; }
    if (keys[0] === "all" || keys[0] === "any") { return Array.isArray(tree[keys[0]]) && !tree[keys[0]].length; }
    return keys[0] === "not" && emptyGroup(tree.not);
  }

  /* ------------------------------------------------------------------ one JSON field and its builder */

  function Part(flow, textarea, fallback) {
    this.flow = flow;
    this.textarea = textarea;
    this.fallback = fallback;
    this.box = textarea.closest(".flex-container") || textarea.parentNode;
    this.root = el("div", {"class": "fb-builder fb-" + textarea.getAttribute("data-flow-part")});
    this.note = el("p", {"class": "fb-note fb-bad-json fb-hidden", text: flow.t.bad_json});
    var self = this;
    this.toggle = el("button", {type: "button", "class": "button fb-json-toggle", text: flow.t.json,
      onclick: function () { self.toggleJSON(); }});
    this.box.parentNode.insertBefore(this.root, this.box.nextSibling);
    this.root.parentNode.insertBefore(el("p", {}, [this.toggle]), this.root.nextSibling);
    this.root.parentNode.insertBefore(this.note, this.root);
  }

  /* Reads the field; false (and the JSON left open with a note) when it does not parse. */
  Part.prototype.load = function () {
    var raw = this.textarea.value.trim();
    try { this.value = raw && raw !== "null" ? JSON.parse(raw) : this.fallback(); }
    catch (e) { this.showJSON(true); this.note.classList.remove("fb-hidden"); this.root.classList.add("fb-hidden"); return false; }
    this.note.classList.add("fb-hidden");
    this.root.classList.remove("fb-hidden");
    return true;
  };

  Part.prototype.showJSON = function (shown) { this.box.classList.toggle("fb-hidden", !shown); };

  Part.prototype.toggleJSON = function () {
    if (this.box.classList.contains("fb-hidden")) { this.showJSON(true); return; }
    if (this.load()) { this.showJSON(false); this.render(); }
  };

  /* `loaded(value)` sees the value first, before the builder draws it. */
  Part.prototype.start = function (loaded) {
    if (!this.load()) { return; }
    if (loaded) { loaded(this.value); }
    this.showJSON(false);
    this.render();
  };

  Part.prototype.sync = function () {
    var value = this.serialize ? this.serialize(this.value) : this.value;
    this.textarea.value = value === null ? "" : JSON.stringify(value, null, 1);
  };

  Part.prototype.render = function () {
    this.root.innerHTML = "";
    this.draw(this.root);
  };

  /* ------------------------------------------------------------------ the flow */

  function FlowBuilder(config) {
    this.c = config.choices;
    this.t = config.text;
    this.rules = config.rules;
    this.errors = config.errors || {};
    this.stepErrors = new Map();
    this.stepNumbers = new Map();
  }

  FlowBuilder.prototype.label = function (key) { return this.t["key_" + key] || key; };

  /* A small labelled input bound to obj[key]; `kind` is select, int, text, email or time. */
  FlowBuilder.prototype.field = function (part, obj, key, kind, extra) {
    extra = extra || {};
    var self = this;
    var input;
    function set(value) {
      if (value === "" || value === null || (typeof value === "number" && isNaN(value))) { delete obj[key]; }
      else { obj[key] = value; }
      part.sync();
    }
    if (kind === "select") {
      input = options(el("select", {onchange: function (e) {
        var v = e.target.value;
        set(v === "" ? "" : (extra.numeric ? Number(v) : v));
      }}), extra.items || [], obj[key], extra.placeholder);
    } else if (kind === "check") {
      input = el("input", {type: "checkbox", onchange: function (e) { set(e.target.checked ? true : ""); }});
      input.checked = obj[key] === true;
    } else {
      input = el("input", {
        type: kind === "int" ? "number" : kind, step: kind === "int" ? "1" : null, min: extra.min,
        list: extra.list, value: obj[key] === undefined ? "" : String(obj[key]),
        oninput: function (e) {
          var v = e.target.value.trim();
          set(kind === "int" ? (v === "" ? "" : parseInt(v, 10)) : v);
        }
      });
    }
    input.classList.add("fb-" + key);
    if (kind === "text" || kind === "email") { input.classList.add("vTextField"); }
    if (extra.invalid) { input.classList.add("fb-invalid"); }
    var text = (extra.label || self.label(key)) + (extra.optional ? " (" + self.t.optional + ")" : "");
    return kind === "check" ? el("label", {"class": "fb-field fb-field-" + key}, [input, document.createTextNode(text)])
      : el("label", {"class": "fb-field fb-field-" + key}, [document.createTextNode(text), input]);
  };

  FlowBuilder.prototype.errorList = function (messages) {
    return el("ul", {"class": "errorlist"}, messages.map(function (m) { return el("li", {text: m}); }));
  };

  /* The segment rule builder on a rule tree held by this flow: `get`/`set` read and store the tree. Its
   * first render only shows the tree (it would rewrite a single condition as a group of one). */
  FlowBuilder.prototype.rulesEditor = function (get, set) {
    var ready = false;
    var holder = {};
    Object.defineProperty(holder, "value", {
      get: function () { var tree = get(); return tree ? JSON.stringify(tree) : ""; },
      set: function (text) { if (ready) { set(JSON.parse(text)); } }
    });
    var root = el("div", {"class": "fb-rules"});
    var rules = new window.SegmentRuleBuilder(root, this.rules.catalogue, this.rules.pickers, this.rules.text,
      holder, null);
    rules.render();
    ready = true;
    return root;
  };

  /* ------------------------------------------------------------------ trigger */

  var TRIGGER_DEFAULTS = {
    date: {field: "birthday", offset_days: 0, time: "09:00"},
    replenishment_due: {days_before: 3}
  };

  FlowBuilder.prototype.drawTrigger = function (part, root) {
    var self = this;
    var trigger = part.value;
    var invalid = this.triggerErrors();
    var type = options(el("select", {"class": "fb-trigger-type", onchange: function (e) {
      part.value = Object.assign({type: e.target.value}, TRIGGER_DEFAULTS[e.target.value] || {});
      self.fillFirstChoice(part.value);
      part.render();
      part.sync();
    }}), this.c.trigger_types, trigger.type, this.t.choose_trigger);
    var row = el("div", {"class": "fb-row"}, [type]);
    var fields = {
      segment_entered: [["segment", "select", {items: this.c.segments, numeric: true, placeholder: this.t.choose}],
        ["include_existing", "check", {}]],
      event: [["event", "select", {items: this.c.events}]],
      purchase: [["channel", "select", {items: this.c.channels, placeholder: this.t.any_channel}]],
      date: [["field", "select", {items: this.c.date_fields}], ["offset_days", "int", {}], ["time", "time", {}]],
      replenishment_due: [["days_before", "int", {min: "0"}]],
      lifecycle_changed: [["to", "select", {items: this.c.stages}]]
    }[trigger.type] || [];
    fields.forEach(function (spec) {
      spec[2].invalid = Object.prototype.hasOwnProperty.call(invalid, spec[0]);
      row.appendChild(self.field(part, trigger, spec[0], spec[1], spec[2]));
    });
    root.appendChild(row);
    var messages = [];
    Object.keys(invalid).forEach(function (key) {
      invalid[key].forEach(function (m) { messages.push((key ? self.label(key) + ": " : "") + m); });
    });
    if (messages.length) { root.appendChild(this.errorList(messages)); }
  };

  FlowBuilder.prototype.fillFirstChoice = function (trigger) {
    var first = {event: this.c.events, to: this.c.stages, segment: this.c.segments};
    var key = {event: "event", lifecycle_changed: "to", segment_entered: "segment"}[trigger.type];
    if (key && first[key] && first[key].length) { trigger[key] = first[key][0].value; }
  };

  /* The server's errors about the trigger, by key ("" for the trigger as a whole); shown until it changes. */
  FlowBuilder.prototype.triggerErrors = function () {
    if (this.triggerErrorsShown) { return {}; }
    var found = {};
    var errors = this.errors;
    Object.keys(errors).forEach(function (path) {
      if (path === "trigger" || path.indexOf("trigger.") === 0) { found[path.slice(8)] = errors[path]; }
    });
    return found;
  };

  /* ------------------------------------------------------------------ steps */

  FlowBuilder.prototype.newStep = function (type) {
    var step = {type: type};
    if (type === "wait") { step.days = 1; }
    if (type === "wait_until") { step.time = "09:00"; }
    if (type === "branch") { step.rules = {all: []}; step.yes = []; step.no = []; }
    return step;
  };

  /* Ties the server's errors and each step's numbers to the step objects, so they move with their step. */
  FlowBuilder.prototype.attach = function (steps, numbers) {
    var self = this;
    Object.keys(this.errors).forEach(function (path) {
      if (path.indexOf("steps.") !== 0) { return; }
      var split = splitStepPath(path.slice(6));
      var step = split[0] ? stepAt(steps, split[0]) : null;
      if (!step) { return; }
      var list = self.stepErrors.get(step) || [];
      list.push({key: split[1], messages: self.errors[path]});
      self.stepErrors.set(step, list);
    });
    Object.keys(numbers || {}).forEach(function (path) {
      var step = stepAt(steps, path);
      if (step) { self.stepNumbers.set(step, numbers[path]); }
    });
  };

  FlowBuilder.prototype.drawList = function (part, list, depth, title) {
    var self = this;
    var box = el("div", {"class": "fb-list"});
    if (!list.length) { box.appendChild(el("p", {"class": "fb-empty", text: this.t.no_steps})); }
    list.forEach(function (step, index) { box.appendChild(self.drawStep(part, list, index, depth)); });
    var types = this.c.step_types.filter(function (t) { return t.value !== "branch" || depth <= self.c.max_branch_depth; });
    var pick = options(el("select", {"class": "fb-new-type"}), types, "wait");
    box.appendChild(el("div", {"class": "fb-add"}, [pick, el("button", {type: "button", "class": "button fb-add-step",
      text: title ? this.t.add_step + " (" + title + ")" : this.t.add_step, onclick: function () {
        list.push(self.newStep(pick.value));
        part.render();
        part.sync();
      }})]));
    return box;
  };

  FlowBuilder.prototype.tools = function (part, list, index) {
    function move(to) {
      return function () {
        var step = list.splice(index, 1)[0];
        if (to !== null) { list.splice(to, 0, step); }
        part.render();
        part.sync();
      };
    }
    return el("span", {"class": "fb-step-tools"}, [
      el("button", {type: "button", "class": "fb-up", text: "↑", title: this.t.move_up, "aria-label": this.t.move_up,
        disabled: index === 0 ? "disabled" : null, onclick: move(index - 1)}),
      el("button", {type: "button", "class": "fb-down", text: "↓", title: this.t.move_down,
        "aria-label": this.t.move_down, disabled: index === list.length - 1 ? "disabled" : null, onclick: move(index + 1)}),
      el("button", {type: "button", "class": "fb-remove", text: "×", title: this.t.remove, "aria-label": this.t.remove,
        onclick: move(null)})
    ]);
  };

  FlowBuilder.prototype.numbersOf = function (step) {
    var numbers = this.stepNumbers.get(step);
    if (!numbers) { return null; }
    var words = [fill(this.t.waiting, {count: numbers.waiting}), fill(this.t.passed, {count: numbers.passed})];
    if (step.type === "send_email") { words.push(fill(this.t.sent, {count: numbers.sent || 0})); }
    return el("span", {"class": "fb-numbers", text: words.join(" · ")});
  };

  FlowBuilder.prototype.drawStep = function (part, list, index, depth) {
    var step = list[index];
    var errors = this.stepErrors.get(step) || [];
    var typeLabel = (this.c.step_types.filter(function (t) { return t.value === step.type; })[0] || {}).label;
    var card = el("div", {"class": "fb-step fb-step-" + step.type + (errors.length ? " fb-has-error" : "")}, [
      el("div", {"class": "fb-step-head"}, [
        el("span", {"class": "fb-step-title",
          text: fill(this.t.step, {number: index + 1}) + " · " + (typeLabel || step.type)}),
        this.numbersOf(step),
        this.tools(part, list, index)
      ])
    ]);
    var invalid = {};
    var self = this;
    errors.forEach(function (error) { invalid[error.key] = true; });
    if (errors.length) {
      card.appendChild(this.errorList(errors.map(function (e) {
        return (e.key && e.key !== "type" ? self.label(e.key) + ": " : "") + e.messages.join(" ");
      })));
    }
    this.drawStepFields(part, step, depth, invalid, card);
    return card;
  };

  FlowBuilder.prototype.drawStepFields = function (part, step, depth, invalid, card) {
    var self = this;
    var row = el("div", {"class": "fb-row"});
    card.appendChild(row);
    function add(key, kind, extra) {
      extra = extra || {};
      extra.invalid = invalid[key];
      row.appendChild(self.field(part, step, key, kind, extra));
    }
    if (step.type === "wait") { row.appendChild(this.waitFields(part, step, invalid)); }
    if (step.type === "wait_until") { add("time", "time"); }
    if (step.type === "send_email") {
      add("template", "select", {items: this.c.templates, numeric: true, placeholder: this.t.choose});
      add("from_email", "email", {optional: true});
    }
    if (step.type === "add_tag" || step.type === "remove_tag") { add("tag", "text", {list: "fb-tags"}); }
    if (step.type === "award_points") { add("points", "int"); add("reason", "text"); }
    if (step.type === "branch") {
      card.appendChild(this.rulesEditor(function () { return step.rules; },
        function (tree) { step.rules = tree; part.sync(); }));
      BRANCHES.forEach(function (side) {
        if (!Array.isArray(step[side])) { step[side] = []; }
        card.appendChild(el("div", {"class": "fb-branch-side fb-" + side}, [
          el("h4", {text: self.t[side]}), self.drawList(part, step[side], depth + 1, self.t[side])
        ]));
      });
    }
  };

  FlowBuilder.prototype.waitFields = function (part, step, invalid) {
    var unit = UNITS.filter(function (u) { return step[u] !== undefined; })[0] || "days";
    var amount = el("input", {type: "number", min: "1", step: "1", "class": "fb-wait-amount",
      value: step[unit] === undefined ? "" : String(step[unit]), oninput: function (e) {
        var v = parseInt(e.target.value, 10);
        if (isNaN(v)) { delete step[unit]; } else { step[unit] = v; }
        part.sync();
      }});
    var units = options(el("select", {"class": "fb-wait-unit", onchange: function (e) {
      var value = step[unit];
      UNITS.forEach(function (u) { delete step[u]; });
      unit = e.target.value;
      if (value !== undefined) { step[unit] = value; }
      part.sync();
    }}), this.c.wait_units, unit);
    if (UNITS.some(function (u) { return invalid[u]; }) || invalid[""]) { amount.classList.add("fb-invalid"); }
    return el("span", {"class": "fb-field fb-field-wait"}, [amount, units]);
  };

  /* ------------------------------------------------------------------ start */

  FlowBuilder.prototype.mount = function (numbers) {
    var self = this;
    var fields = {};
    document.querySelectorAll("textarea[data-flow-part]").forEach(function (area) {
      fields[area.getAttribute("data-flow-part")] = area;
    });
    if (!fields.trigger || !fields.steps) { return; }
    if (this.c.tags && this.c.tags.length && !document.getElementById("fb-tags")) {
      document.body.appendChild(options(el("datalist", {id: "fb-tags"}), this.c.tags, null));
    }
    var trigger = new Part(this, fields.trigger, function () { return {}; });
    trigger.draw = function (root) { self.drawTrigger(trigger, root); };
    var originalRender = trigger.render;
    trigger.render = function () { originalRender.call(trigger); self.triggerErrorsShown = true; };
    trigger.start();

    var steps = new Part(this, fields.steps, function () { return []; });
    steps.draw = function (root) {
      if (!Array.isArray(steps.value)) { steps.value = []; }
      root.appendChild(self.drawList(steps, steps.value, 1, null));
    };
    steps.start(function (value) { if (Array.isArray(value)) { self.attach(value, numbers); } });

    if (fields.exit_rules) {
      var exit = new Part(this, fields.exit_rules, function () { return null; });
      exit.serialize = function (tree) { return emptyGroup(tree) ? null : tree; };
      exit.draw = function (root) {
        root.appendChild(self.rulesEditor(function () { return exit.value; },
          function (tree) { exit.value = tree; exit.sync(); }));
      };
      exit.start();
    }
  };

  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    confirmForms();
    var choices = readJSON("flow-builder-choices");
    if (!choices || !window.SegmentRuleBuilder) { return; }
    var builder = new FlowBuilder({
      choices: choices,
      text: readJSON("flow-builder-text"),
      errors: readJSON("flow-builder-errors"),
      rules: {
        catalogue: readJSON("flow-rule-catalogue"),
        pickers: readJSON("flow-rule-pickers"),
        text: readJSON("flow-rule-text")
      }
    });
    builder.mount(readJSON("flow-builder-numbers"));
  });
})();
