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
  lines();
  update();
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
  const events = new EventSource(`/merge/jobs/${job.dataset.job}/events`);
  events.addEventListener("progress", (event) => {
    const state = JSON.parse(event.data);
    progress.value = state.percent;
    percent.textContent = `${state.percent}%`;
    text.textContent = `${state.done} of ${state.total || "…"} letters · ${state.state}`;
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
      post(`/merge/jobs/${job.dataset.job}/cancel`, {});
    });
  }
}

const starts = {draft: startDraft, check: startCheck, validate: startValidate, job: startJob};
(starts[document.body.dataset.page] || (() => {}))();
