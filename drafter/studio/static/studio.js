// drafter studio: the small amount of behaviour the server-rendered pages need.
// No framework, no build step: each page's part starts from the body's data-page.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;

function post(url, body) {
  return fetch(url, {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
    body: JSON.stringify(body),
  });
}

function element(tag, attributes, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// --- draft: the YAML editor, its problems at their lines, the pages beside it ---------------

function startDraft() {
  const draft = document.getElementById("draft");
  const yaml = document.getElementById("yaml");
  const gutter = document.getElementById("gutter");
  const backdrop = document.getElementById("backdrop");
  const problems = document.getElementById("problems");
  const pages = document.getElementById("pages");
  const status = document.getElementById("preview-status");
  const name = document.getElementById("data-name");
  const downloads = document.querySelectorAll("#download-form button");
  let latest = 0;
  let timer = null;
  let lineCount = 0;
  const letterForm = startForm({
    template: () => draft.dataset.template,
    name: () => name.value,
    text: () => yaml.value,
    setText: (text) => { yaml.value = text; changed(); },
    problems: (found) => show(found),
  });

  function lines() {
    const count = yaml.value.split("\n").length;
    if (count === lineCount) return;
    lineCount = count;
    gutter.replaceChildren();
    backdrop.replaceChildren();
    for (let n = 1; n <= count; n++) {
      gutter.append(element("div", {"class": "number", "data-line": n}, String(n)));
      backdrop.append(element("div", {"class": "line", "data-line": n}));
    }
  }

  function scrolled() {
    gutter.scrollTop = yaml.scrollTop;
    backdrop.style.transform = `translateY(${-yaml.scrollTop}px)`;
  }

  function goTo(line) {
    const before = yaml.value.split("\n").slice(0, line - 1).join("\n");
    const start = line > 1 ? before.length + 1 : 0;
    const end = yaml.value.indexOf("\n", start);
    yaml.focus();
    yaml.setSelectionRange(start, end < 0 ? yaml.value.length : end);
    const height = parseFloat(getComputedStyle(yaml).lineHeight) || 20;
    yaml.scrollTop = Math.max(0, (line - 1) * height - yaml.clientHeight / 3);
    scrolled();
  }

  function show(found) {
    lines();
    for (const node of backdrop.querySelectorAll(".line")) {
      node.className = "line";
      node.replaceChildren();
    }
    for (const node of gutter.querySelectorAll(".number")) node.className = "number";
    const list = element("ul", {"class": "problem-list"});
    for (const problem of found) {
      const item = element("li", {"class": problem.severity}, problem.text);
      if (problem.line) {
        item.dataset.line = problem.line;
        item.addEventListener("click", () => goTo(problem.line));
        const line = backdrop.querySelector(`.line[data-line="${problem.line}"]`);
        const number = gutter.querySelector(`.number[data-line="${problem.line}"]`);
        if (line) {
          if (!line.classList.contains("error")) line.classList.add(problem.severity);
          const label = problem.field ? `${problem.field}: ${problem.message}` : problem.message;
          line.append(element("span", {"class": `note ${problem.severity}`}, label));
        }
        if (number) {
          number.classList.add(problem.severity);
          number.title = problem.message;
        }
      }
      list.append(item);
    }
    const errors = found.filter((p) => p.severity === "error").length;
    problems.replaceChildren();
    problems.dataset.errors = errors;
    if (found.length) problems.append(list);
    for (const button of downloads) button.disabled = errors > 0;
    letterForm.problems(found);
  }

  function showPages(urls) {
    const images = urls.map((url, i) => new Promise((resolve) => {
      const image = element("img", {"alt": `page ${i + 1}`, "class": "page"});
      image.onload = () => resolve(image);
      image.onerror = () => resolve(image);
      image.src = url;
    }));
    return Promise.all(images).then((loaded) => {
      pages.replaceChildren(...loaded);
      pages.dataset.pages = String(loaded.length);
      pages.dataset.version = String(Number(pages.dataset.version || 0) + 1);
    });
  }

  async function update() {
    const mine = ++latest;
    status.textContent = "Updating…";
    status.className = "busy";
    const body = {data: name.value, template: draft.dataset.template, text: yaml.value};
    let result;
    try {
      const response = await post("/api/draft?preview=1", body);
      result = await response.json();
    } catch (error) {
      if (mine === latest) status.textContent = `The studio did not answer (${error}).`;
      return;
    }
    if (mine !== latest || result.superseded) return;  // a newer change is on its way
    show(result.problems);
    if (!result.ok) {
      status.textContent = "Fix the problems to update the pages.";
      status.className = "stale";
      pages.classList.add("stale");
      return;
    }
    await showPages(result.pages);
    if (mine !== latest) return;
    pages.classList.remove("stale");
    status.textContent = `Up to date · ${result.pages.length} page${result.pages.length === 1 ? "" : "s"}`;
    status.className = "fresh";
  }

  function changed() {
    lines();
    clearTimeout(timer);
    timer = setTimeout(update, 300);
  }

  yaml.addEventListener("input", changed);
  yaml.addEventListener("scroll", scrolled);
  yaml.addEventListener("keydown", (event) => {
    if (event.key === "Tab" && !event.shiftKey) {  // YAML indents with spaces
      event.preventDefault();
      yaml.setRangeText("  ", yaml.selectionStart, yaml.selectionEnd, "end");
      changed();
    }
  });
  document.getElementById("save").addEventListener("click", async () => {
    const saved = document.getElementById("save-status");
    const response = await post("/api/draft/save", {data: name.value, text: yaml.value});
    const result = await response.json();
    saved.textContent = result.message;
  });
  document.getElementById("download-form").addEventListener("submit", (event) => {
    const form = event.target;
    form.elements.data.value = name.value;
    form.elements.template.value = draft.dataset.template;
    form.elements.text.value = yaml.value;
  });
  const tabs = {yaml: document.getElementById("tab-yaml"), form: document.getElementById("tab-form")};
  const editor = document.getElementById("editor");
  const formPane = document.getElementById("letter-form");
  function pick(which) {
    tabs.yaml.setAttribute("aria-selected", String(which === "yaml"));
    tabs.form.setAttribute("aria-selected", String(which === "form"));
    editor.hidden = which !== "yaml";
    formPane.hidden = which !== "form";
    if (which === "form") letterForm.load();  // the form shows the YAML as it is now
  }
  tabs.yaml.addEventListener("click", () => pick("yaml"));
  tabs.form.addEventListener("click", () => pick("form"));
  lines();
  update();
}

// --- draft: the form made from the template's fields ---------------------------------------
// The server describes the fields (drafter.form.letter_form) and writes each change into the
// YAML (drafter.form.set_field); the YAML stays the letter, the form is a view of it.

function dotted(path) {
  let text = "";
  for (const part of path) {
    text += typeof part === "number" ? `[${part}]` : (text ? `.${part}` : part);
  }
  return text;
}

const SCALARS = ["text", "date", "choice", "number", "boolean", "file"];

function startForm(hooks) {
  const form = document.getElementById("letter-form");
  let fields = [];
  let queue = Promise.resolve();
  let lastProblems = [];

  function valueAt(values, path) {
    let value = values;
    for (const part of path) {
      if (value === null || value === undefined || typeof value !== "object") return undefined;
      value = value[part];
    }
    return value;
  }

  function set(path, value, redraw) {
    queue = queue.then(async () => {
      const response = await post("/api/draft/form/set", {
        template: hooks.template(), text: hooks.text(), path, value});
      const result = await response.json();
      if (!result.ok) {
        form.dataset.message = result.message || "";
        hooks.problems([{line: null, severity: "error", field: "", message: result.message,
                         text: result.message}]);
        return;
      }
      hooks.setText(result.text);
      form.dataset.edits = String(Number(form.dataset.edits || 0) + 1);
      if (redraw) await load();
    });
    return queue;
  }

  function label(field, control, text) {
    const wrapper = element("label", {"class": "field"});
    const head = element("span", {"class": "label"}, text || field.label);
    if (field.required) head.append(element("abbr", {"class": "required", "title": "required"}, "*"));
    wrapper.append(head);
    if (field.description) wrapper.append(element("small", {"class": "hint"}, field.description));
    wrapper.append(control);
    return wrapper;
  }

  function watch(control, path, kind) {
    let timer = null;
    const send = () => { clearTimeout(timer); timer = null; set(path, control.value); };
    control.addEventListener("change", () => { if (timer !== null || kind !== "typed") send(); });
    if (kind === "typed") {
      control.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(send, 500);
      });
    }
  }

  function scalar(field, path, value, name) {
    let control;
    const shown = value === undefined || value === null ? "" : String(value);
    if (field.kind === "choice" || field.kind === "boolean") {
      control = element("select", {});
      const options = field.kind === "boolean" ? [["", "(not set)"], ["true", "yes"], ["false", "no"]]
        : [["", "(default)"], ...field.choices.map((c) => [c, c])];
      for (const [key, text] of options) control.append(element("option", {"value": key}, text));
      control.value = shown === "True" ? "true" : shown === "False" ? "false" : shown;
      watch(control, path, "picked");
    } else {
      // a date the browser's picker can hold; any other text stays text, with its problem
      const iso = shown === "" || (/^\d{4}-\d{2}-\d{2}$/.test(shown)
        && !Number.isNaN(Date.parse(shown)) && new Date(shown).toISOString().startsWith(shown));
      control = element("input", {"type": field.kind === "date" && iso ? "date" : "text",
                                  "spellcheck": "false"});
      if (field.kind === "number") control.setAttribute("inputmode", "decimal");
      control.value = shown;
      watch(control, path, control.type === "date" ? "picked" : "typed");
    }
    control.dataset.field = dotted(path);
    control.setAttribute("aria-label", name || field.label);
    if (field.required) control.setAttribute("aria-required", "true");
    return control;
  }

  function text(field, path, value, parent) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      // a text given per locale: one box each
      const group = element("fieldset", {"class": "locales", "data-field": dotted(path)});
      const legend = element("legend", {}, field.label);
      if (field.required) legend.append(element("abbr", {"class": "required", "title": "required"}, "*"));
      group.append(legend);
      if (field.description) group.append(element("small", {"class": "hint"}, field.description));
      for (const key of Object.keys(value)) {
        const control = scalar({...field, kind: "text", required: false}, [...path, key],
                               value[key], `${field.label} (${key})`);
        group.append(label({label: key, description: ""}, control, key));
      }
      parent.append(group);
      return;
    }
    parent.append(label(field, scalar(field, path, value)));
  }

  function list(field, path, values, parent) {
    const group = element("fieldset", {"class": `list ${field.kind}`, "data-field": dotted(path)});
    const legend = element("legend", {}, field.label);
    if (field.required) legend.append(element("abbr", {"class": "required", "title": "required"}, "*"));
    group.append(legend);
    if (field.description) group.append(element("small", {"class": "hint"}, field.description));
    const items = Array.isArray(values) ? values : [];
    items.forEach((item, i) => {
      const row = element("div", {"class": "item"});
      const shown = typeof item === "object" && item !== null ? JSON.stringify(item) : String(item ?? "");
      const control = element(field.kind === "paragraphs" ? "textarea" : "input",
                              {"aria-label": `${field.label} ${i + 1}`, "spellcheck": "true"});
      if (field.kind === "paragraphs") control.rows = Math.min(8, Math.max(2, Math.ceil(shown.length / 70)));
      control.value = shown;
      control.dataset.field = dotted([...path, i]);
      if (typeof item === "object" && item !== null) control.disabled = true;  // per locale: in the YAML
      watch(control, [...path, i], "typed");
      row.append(control, removeButton(`${field.label} ${i + 1}`, [...path, i]));
      group.append(row);
    });
    group.append(addButton(field, [...path, items.length], ""));
    parent.append(group);
  }

  function contacts(field, path, values, parent) {
    const group = element("fieldset", {"class": "list contacts", "data-field": dotted(path)});
    group.append(element("legend", {}, field.label));
    if (field.description) group.append(element("small", {"class": "hint"}, field.description));
    const items = Array.isArray(values) ? values : [];
    const rows = [];
    const whole = () => rows.map(([kind, value, extra]) => ({...extra, [kind.value]: value.value}));
    items.forEach((item, i) => {
      const entry = item && typeof item === "object" ? item : {};
      const kinds = Object.keys(entry).filter((k) => k !== "as_given");
      const current = kinds[0] || "email";
      const extra = "as_given" in entry ? {as_given: entry.as_given === "true" || entry.as_given === true} : {};
      const row = element("div", {"class": "item", "data-field": dotted([...path, i])});
      const kind = element("select", {"aria-label": `${field.label} ${i + 1}: kind`});
      for (const k of ["phone", "fax", "email"]) kind.append(element("option", {"value": k}, k));
      kind.value = current;
      const value = element("input", {"aria-label": `${field.label} ${i + 1}: number or address`,
                                      "spellcheck": "false"});
      value.value = String(entry[current] ?? "");
      value.dataset.field = dotted([...path, i, current]);
      rows.push([kind, value, extra]);
      kind.addEventListener("change", () => set(path, whole()));
      let timer = null;
      value.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => set(path, whole()), 500);
      });
      row.append(kind, value, removeButton(`${field.label} ${i + 1}`, [...path, i]));
      group.append(row);
    });
    group.append(addButton(field, [...path, items.length], {email: ""}));
    parent.append(group);
  }

  function removeButton(what, path) {
    const button = element("button", {"type": "button", "class": "remove",
                                      "aria-label": `Remove ${what}`, "title": `Remove ${what}`}, "×");
    button.addEventListener("click", () => set(path, null, true));
    return button;
  }

  function addButton(field, path, value) {
    const button = element("button", {"type": "button", "class": "add"},
                           field.kind === "records" ? `Add a row to ${field.label.toLowerCase()}`
                             : `Add to ${field.label.toLowerCase()}`);
    button.dataset.add = dotted(path.slice(0, -1));
    button.addEventListener("click", () => {
      const blank = field.kind === "records"
        ? {[(field.fields.find((f) => f.required) || field.fields[0]).name]: "…"} : value || "…";
      set(path, blank, true);
    });
    return button;
  }

  function records(field, path, values, parent) {
    const group = element("fieldset", {"class": "records", "data-field": dotted(path)});
    const legend = element("legend", {}, field.label);
    if (field.required) legend.append(element("abbr", {"class": "required", "title": "required"}, "*"));
    group.append(legend);
    if (field.description) group.append(element("small", {"class": "hint"}, field.description));
    const items = Array.isArray(values) ? values : [];
    if (field.fields.every((f) => SCALARS.includes(f.kind))) {
      const table = element("table", {"class": "records-table"});
      const head = element("tr", {});
      for (const column of field.fields) {
        const th = element("th", {"scope": "col"}, column.label);
        if (column.required) th.append(element("abbr", {"class": "required", "title": "required"}, "*"));
        if (column.description) th.append(element("small", {"class": "hint"}, `${column.description} · ${column.kind}`));
        else th.append(element("small", {"class": "hint"}, column.kind));
        head.append(th);
      }
      head.append(element("th", {"class": "actions"}, ""));
      table.append(element("thead", {}), element("tbody", {}));
      table.tHead.append(head);
      items.forEach((item, i) => {
        const row = element("tr", {"data-field": dotted([...path, i])});
        for (const column of field.fields) {
          const cell = element("td", {});
          cell.append(scalar(column, [...path, i, ...column.path], valueAt(item, column.path),
                             `${column.label}, row ${i + 1}`));
          row.append(cell);
        }
        const actions = element("td", {"class": "actions"});
        actions.append(removeButton(`row ${i + 1}`, [...path, i]));
        row.append(actions);
        table.tBodies[0].append(row);
      });
      const wrap = element("div", {"class": "table-wrap"});
      wrap.append(table);
      group.append(wrap);
    } else {
      items.forEach((item, i) => {
        const card = element("fieldset", {"class": "record", "data-field": dotted([...path, i])});
        const name = valueAt(item, ["name"]);
        const title = typeof name === "string" ? name : `${field.label} ${i + 1}`;
        card.append(element("legend", {}, title));
        for (const column of field.fields) render(column, [...path, i, ...column.path], card,
                                                  valueAt(item, column.path));
        card.append(removeButton(title, [...path, i]));
        group.append(card);
      });
    }
    group.append(addButton(field, [...path, items.length]));
    parent.append(group);
  }

  function render(field, path, parent, value) {
    if (field.kind === "group") {
      const group = element("fieldset", {"class": "group", "data-field": dotted(path)});
      const legend = element("legend", {}, field.label);
      if (field.required) legend.append(element("abbr", {"class": "required", "title": "required"}, "*"));
      group.append(legend);
      if (field.description) group.append(element("small", {"class": "hint"}, field.description));
      for (const inner of field.fields) {
        const relative = inner.path.slice(field.path.length);
        render(inner, [...path, ...relative], group, valueAt(value, relative));
      }
      parent.append(group);
    } else if (field.kind === "records") {
      records(field, path, value, parent);
    } else if (field.kind === "contacts") {
      contacts(field, path, value, parent);
    } else if (field.kind === "texts" || field.kind === "paragraphs") {
      list(field, path, value, parent);
    } else if (field.kind === "text") {
      text(field, path, value, parent);
    } else {
      parent.append(label(field, scalar(field, path, value)));
    }
  }

  async function load() {
    const response = await post("/api/draft/form", {data: hooks.name(), template: hooks.template(),
                                                    text: hooks.text()});
    const result = await response.json();
    fields = result.fields;
    form.replaceChildren();
    if (!result.ok) {
      form.append(element("p", {"class": "problem", "id": "form-unreadable"},
                          "The YAML cannot be read, so the form cannot show it: fix the problem below in the YAML tab."));
      hooks.problems(result.problems);
    } else {
      const own = fields.filter((f) => f.declared);
      if (own.length) {
        form.append(element("p", {"class": "muted"},
                            `This template's own fields (${own.map((f) => f.label).join(", ")}) are marked.`));
      }
      for (const field of fields) {
        const before = form.childElementCount;
        render(field, field.path, form, result.values[field.name]);
        if (field.declared && form.lastElementChild && form.childElementCount > before) {
          form.lastElementChild.classList.add("declared");
        }
      }
    }
    form.dataset.loaded = String(Number(form.dataset.loaded || 0) + 1);
    problems(lastProblems);
  }

  function problems(found) {
    lastProblems = found;
    for (const node of form.querySelectorAll(".field-problem")) node.remove();
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    for (const problem of found) {
      if (!problem.field) continue;
      let name = problem.field;
      let target = null;
      while (name) {
        target = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
        if (target) break;
        const cut = Math.max(name.lastIndexOf("."), name.lastIndexOf("["));
        name = cut > 0 ? name.slice(0, cut) : "";
      }
      if (!target) continue;
      const note = element("div", {"class": `field-problem ${problem.severity}`, "role": "alert"},
                           name === problem.field ? problem.message : `${problem.field}: ${problem.message}`);
      note.dataset.problemFor = problem.field;
      if (["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName)) {
        target.setAttribute("aria-invalid", "true");
        target.after(note);
      } else if (target.tagName === "TR") {
        target.cells[0].append(note);
      } else {
        const legend = target.querySelector(":scope > legend");
        (legend || target).after(note);
      }
    }
  }

  return {load, problems};
}

// --- check: findings, re-checked when the template changes on disk -------------------------

function startCheck() {
  const findings = document.getElementById("findings");
  if (!findings) return;
  const template = encodeURIComponent(findings.dataset.template);
  const stamp = encodeURIComponent(findings.dataset.stamp || "");
  const events = new EventSource(`/check/events?template=${template}&stamp=${stamp}`);
  events.addEventListener("changed", async () => {
    const response = await fetch(`/check/findings?template=${template}`);
    findings.innerHTML = await response.text();
    findings.dataset.rechecked = String(Number(findings.dataset.rechecked || 0) + 1);
    const note = document.getElementById("watch-status");
    if (note) note.textContent = `· re-checked at ${new Date().toLocaleTimeString()}, after a save`;
  });
}

// --- merge: the start button, the progress of a running merge -------------------------------

function startValidate() {
  const start = document.getElementById("start");
  if (!start || !start.dataset.needs) return;
  const box = document.getElementById(start.dataset.needs);
  const sync = () => { start.disabled = !box.checked; };
  box.addEventListener("change", sync);
  sync();
}

function startJob() {
  const job = document.getElementById("job");
  if (["done", "failed", "cancelled"].includes(job.dataset.state)) return;
  const progress = document.getElementById("progress");
  const percent = document.getElementById("percent");
  const text = document.getElementById("progress-text");
  const events = new EventSource(job.dataset.events);
  events.addEventListener("progress", (event) => {
    const state = JSON.parse(event.data);
    progress.value = state.percent;
    percent.textContent = `${state.percent}%`;
    text.textContent = `${state.done} of ${state.total || "…"} ${state.unit} · ${state.state}`;
    job.dataset.state = state.state;
  });
  events.addEventListener("end", () => {
    events.close();
    location.reload();
  });
  const cancel = document.getElementById("cancel");
  if (cancel) {
    cancel.addEventListener("click", () => {
      cancel.disabled = true;
      cancel.textContent = "Cancelling…";
      post(job.dataset.cancel, {});
    });
  }
}

const starts = {draft: startDraft, check: startCheck, validate: startValidate, job: startJob};
(starts[document.body.dataset.page] || (() => {}))();
