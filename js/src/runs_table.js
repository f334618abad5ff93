// The runs table's front end. It draws the rows Python sends (every number and
// word of a row comes from convlab_widgets/runs_table.py) and sends the
// learner's clicks back as intents; Python answers with new rows. Every text is
// set as text (textContent, value, title), never as markup: run names and
// messages come from learners and from lab files.

import { h } from "./dom.js";

const EMPTY = "No runs yet: press Train. Every run is kept here to compare with the next.";
const HINT = "— tick runs to overlay them on the loss and accuracy panels; click a name to rename it";
const TICK = "overlay this run on the panels";
const TICK_LIVE = "the run being watched is always shown in full";

// Small inline icons (16-unit boxes): no icon font needs to be on the page (Colab, VS Code).
const ICONS = {
  clone: "M5 1h8a1 1 0 0 1 1 1v8h-1.6V2.6H5zM2 4h8a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H2a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1zm.6 1.6v7.8h6.8V5.6z",
  trash: "M6 1h4l.6 1.2H14v1.6H2V2.2h3.4zM3.2 5h9.6l-.8 9.1a1 1 0 0 1-1 .9H5a1 1 0 0 1-1-.9zm2.3 1.5.4 7h1.3l-.2-7zm3.6 0-.2 7h1.3l.4-7z",
  play: "M4 2.2v11.6L13.4 8z",
  list: "M1 2.5h2v2H1zm4 .2h10v1.6H5zM1 7h2v2H1zm4 .2h10v1.6H5zM1 11.5h2v2H1zm4 .2h10v1.6H5z",
};
const SVG = "http://www.w3.org/2000/svg";

function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  for (const [key, value] of Object.entries({ viewBox: "0 0 16 16", width: "14", height: "14", "aria-hidden": "true" })) {
    svg.setAttribute(key, value);
  }
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

const button = (className, iconName, text, attrs = {}) =>
  h("button", { class: `convlab-runs-button ${className}`, type: "button", ...attrs }, icon(iconName),
    text ? h("span", { text }) : null);

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// One run's row: its cells, the Resume line of an interrupted run, and the "what changed" line.
function rowView(columns, send) {
  let row = null; // the state last drawn
  const tick = h("input", { type: "checkbox", class: "convlab-runs-cell convlab-runs-tick" });
  const swatch = h("div", { class: "convlab-runs-swatch" });
  const name = h("input", {
    type: "text", class: "convlab-runs-cell convlab-runs-name", spellcheck: "false", "aria-label": "run name",
    title: "click to rename this run (its legends follow)",
  });
  const numbers = columns.slice(3, 10).map((column) =>
    h("div", { class: `convlab-runs-cell${column.number ? " convlab-runs-number" : ""}` }));
  const clone = button("convlab-runs-clone", "clone", "Clone & tweak", {
    title: "load this run's architecture and settings into the builder and controls",
  });
  const remove = button("convlab-runs-delete", "trash", "", { "aria-label": "delete this run" });
  const actions = h("div", { class: "convlab-runs-cell convlab-runs-actions" }, clone, remove);
  const cells = h("div", { class: "convlab-runs-row" }, tick, h("div", { class: "convlab-runs-cell" }, swatch), name,
    numbers, actions);
  // Only an interrupted run (its kernel stopped while it trained) has this line: what happened and Resume,
  // under its numbers (in the actions column, which stays at the right edge, it would hide them).
  const resume = button("convlab-runs-resume", "play", "Resume", {
    title: "continue this run from its last checkpoint, its curves going on",
  });
  const interruption = h("span", { class: "convlab-runs-interruption" });
  const interrupted = h("div", { class: "convlab-runs-interrupted" }, resume, interruption);
  const changes = h("div", { class: "convlab-runs-changes" });
  const box = h("div", { class: "convlab-runs-run" }, cells, interrupted, changes);

  tick.addEventListener("change", () => send({ intent: "tick", key: row.key, ticked: tick.checked }));
  // A name is sent when the learner is done with it (Enter, or leaving the field), as a rename intent.
  name.addEventListener("change", () => send({ intent: "rename", key: row.key, name: name.value }));
  name.addEventListener("keydown", (event) => {
    event.stopPropagation(); // typing a name never triggers the notebook's shortcuts
    if (event.key === "Escape") {
      name.value = row.name;
      name.blur();
    }
  });
  clone.addEventListener("click", () => send({ intent: "clone", key: row.key }));
  remove.addEventListener("click", () => send({ intent: "delete", key: row.key }));
  resume.addEventListener("click", () => send({ intent: "resume", key: row.key }));

  // `answered`: Python has answered an intent, so the name field shows Python's name even while it has
  // the focus (a refused name goes back); otherwise a name being typed is left alone.
  const update = (next, answered) => {
    row = next;
    tick.checked = next.ticked;
    tick.disabled = next.live;
    tick.title = next.live ? TICK_LIVE : TICK;
    swatch.style.background = next.color;
    swatch.title = `${next.name}'s colour`;
    if (answered || document.activeElement !== name) {
      if (name.value !== next.name) name.value = next.name;
    }
    numbers.forEach((cell, i) => setText(cell, next.cells[i] ?? ""));
    setText(changes, next.changes);
    interrupted.style.display = next.interruption ? "" : "none";
    setText(interruption, next.interruption);
    remove.disabled = next.running;
    remove.title = next.running ? "stop the run before deleting it" : "delete this run";
  };
  return { box, update };
}

function render({ model, el }) {
  const send = (intent) => model.send(intent);
  const columns = model.get("columns");
  const toggle = button("convlab-runs-toggle", "list", "what changed", {
    title: "show or hide the line under each run that says what changed since the run before it",
  });
  toggle.addEventListener("click", () => send({ intent: "changes", show: !model.get("show_changes") }));
  const heading = h("div", { class: "convlab-runs-heading" },
    h("div", { class: "convlab-runs-title" }, "Runs ", h("span", { class: "convlab-runs-hint", text: HINT })), toggle);
  const empty = h("div", { class: "convlab-runs-empty" }, h("i", { text: EMPTY }));
  const header = h("div", { class: "convlab-runs-row convlab-runs-header" }, columns.map((column) =>
    h("div", { class: `convlab-runs-head${column.number ? " convlab-runs-number" : ""}`, text: column.label })));
  const body = h("div", { class: "convlab-runs-body" });
  // The actions stay at the right edge of a narrow output while the numbers scroll under them.
  const scroll = h("div", { class: "convlab-runs-scroll" }, body);
  const root = h("div", { class: "convlab-runs" }, heading, empty, scroll);
  root.style.setProperty("--convlab-runs-columns", columns.map((column) => column.width).join(" "));
  el.append(root);

  const views = new Map(); // key -> the row drawn for that run
  const draw = (answered = false) => {
    const rows = model.get("rows") || [];
    const keys = new Set(rows.map((row) => row.key));
    for (const [key, view] of views) {
      if (!keys.has(key)) {
        view.box.remove();
        views.delete(key);
      }
    }
    const wanted = rows.length ? [header] : [];
    for (const row of rows) {
      if (!views.has(row.key)) views.set(row.key, rowView(columns, send));
      const view = views.get(row.key);
      view.update(row, answered);
      wanted.push(view.box);
    }
    wanted.forEach((node, i) => {
      if (body.children[i] !== node) body.insertBefore(node, body.children[i] || null);
    });
    while (body.children.length > wanted.length) body.lastElementChild.remove();
    empty.style.display = rows.length ? "none" : "";
    scroll.style.display = rows.length ? "" : "none";
    const shown = Boolean(model.get("show_changes"));
    root.classList.toggle("convlab-runs-folded", !shown);
    toggle.classList.toggle("convlab-runs-pressed", shown);
    toggle.setAttribute("aria-pressed", String(shown));
  };
  const redraw = () => draw(false);
  const answer = () => draw(true);
  draw();
  model.on("change:rows", redraw);
  model.on("change:show_changes", redraw);
  model.on("change:answered", answer);
  return () => {
    model.off("change:rows", redraw);
    model.off("change:show_changes", redraw);
    model.off("change:answered", answer);
  };
}

export default { render };
