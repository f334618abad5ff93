// The Builder's front end. It renders what Python sends (catalog, presets,
// the summary as `view`) and sends edit intents back; it never computes a
// shape or a parameter count. Python applies each intent and answers with a
// new view, so the browser and the kernel cannot disagree.

import { formatCompact, formatCount, formatShape, h } from "../dom.js";
import { refreshEditor, renderEditor } from "./editor.js";
import { renderPalette } from "./palette.js";
import { dropIndex, markerTop, renderRow, stackHead } from "./stack.js";

function toolbar(model, state, send) {
  const presets = h(
    "select",
    { class: "convlab-presets", "aria-label": "Load a preset", title: "Load an architecture from the codelabs" },
    h("option", { value: "", text: "Load preset…" }),
    model.get("presets").map((preset) => h("option", { value: preset.name, title: preset.description, text: preset.title })),
  );
  presets.addEventListener("change", () => {
    if (presets.value) send({ intent: "preset", name: presets.value });
    presets.value = "";
  });

  const dataset = h(
    "select",
    { class: "convlab-dataset", "aria-label": "Dataset", title: "Where the input images come from" },
    model.get("datasets").map((d) => h("option", { value: d.name, text: d.download ? `${d.title} (downloads)` : d.title })),
    h("option", { value: "", text: "custom" }),
  );
  dataset.addEventListener("change", () => send({ intent: "dataset", name: dataset.value }));
  // In a lab the lab's Data control chooses the data: one selector, so here it is only named.
  const datasetName = h("strong", { class: "convlab-dataset-name", title: "Chosen with Data in the training controls below" });
  const datasetTool = h("label", { class: "convlab-tool" }, h("span", { text: "Data" }), dataset, datasetName);

  const shapeInput = h("input", {
    class: "convlab-input-shape",
    type: "text",
    "aria-label": "Input shape (height, width, channels)",
    title: "Input shape: height, width, channels",
    spellcheck: "false",
    size: "10",
  });
  const classesInput = h("input", {
    class: "convlab-num-classes",
    type: "number",
    min: "2",
    max: "1000",
    "aria-label": "Number of classes",
    title: "How many classes the model tells apart",
  });
  const sendInput = () => send({ intent: "input", input_shape: shapeInput.value, num_classes: classesInput.value });
  for (const input of [shapeInput, classesInput]) {
    input.addEventListener("change", sendInput);
    input.addEventListener("keydown", (event) => {
      event.stopPropagation();
      if (event.key === "Enter") sendInput();
    });
  }

  const undo = h("button", { type: "button", class: "convlab-undo", title: "Undo (Ctrl+Z)", "aria-label": "Undo", text: "↶" });
  const redo = h("button", { type: "button", class: "convlab-redo", title: "Redo (Ctrl+Shift+Z)", "aria-label": "Redo", text: "↷" });
  undo.addEventListener("click", () => send({ intent: "undo" }));
  redo.addEventListener("click", () => send({ intent: "redo" }));
  const code = h("button", { type: "button", class: "convlab-code-toggle", "aria-pressed": "false", text: "</> Code" });
  code.addEventListener("click", () => send({ intent: "code", show: !model.get("show_code") }));

  const bar = h(
    "div",
    { class: "convlab-toolbar" },
    datasetTool,
    h("label", { class: "convlab-tool" }, h("span", { text: "Input" }), shapeInput),
    h("label", { class: "convlab-tool" }, h("span", { text: "Classes" }), classesInput),
    h("span", { class: "convlab-spacer" }),
    presets,
    undo,
    redo,
    code,
  );
  bar.update = (view) => {
    dataset.value = view.dataset || "";
    dataset.hidden = Boolean(view.dataset_locked);
    datasetName.hidden = !view.dataset_locked;
    datasetName.textContent = view.dataset || "";
    if (document.activeElement !== shapeInput) shapeInput.value = view.input_shape.join(", ");
    if (document.activeElement !== classesInput) classesInput.value = view.num_classes;
    undo.disabled = !view.can_undo;
    redo.disabled = !view.can_redo;
    code.setAttribute("aria-pressed", String(model.get("show_code")));
  };
  return bar;
}

function footer(view) {
  const t = view.totals;
  const problems = view.problems.filter((p) => p.index === null);
  return h(
    "div",
    { class: "convlab-footer" },
    h(
      "span",
      {
        class: "convlab-total",
        title: `${formatCompact(t.macs)} multiply-adds per image · ${formatCount(t.activations)} activation values per image`,
      },
      h("strong", { text: formatCount(t.params) }),
      " parameters",
    ),
    h("span", { class: "convlab-trainable", text: `${formatCount(t.trainable)} trainable` }),
    h("span", { class: "convlab-flops", text: `${formatCompact(t.macs)} mult-adds/image` }),
    h("span", {
      class: `convlab-validity ${view.valid ? "ok" : "bad"}`,
      text: view.valid ? "✓ ready to train" : view.data_mismatch ? "✗ not the data's shape" : "✗ fix the red rows",
    }),
    problems.map((p) => h("div", { class: "convlab-model-problem", role: "alert", text: p.message })),
  );
}

function render({ model, el }) {
  const state = {
    selected: null,
    editing: false,
    expanded: new Set(),
    drag: null,
    focusAfterRender: false,
    editor: null,
  };
  const send = (message) => model.send(message);
  const root = h("div", { class: "convlab-builder", tabindex: "-1" });
  el.append(root);

  const catalogByType = () => Object.fromEntries(model.get("catalog").layers.map((l) => [l.type, l]));
  let specs = catalogByType();

  const notice = h("div", { class: "convlab-notice", role: "status", "aria-live": "polite" });
  const mismatch = h("div", { class: "convlab-data-mismatch", role: "alert" });
  const marker = h("div", { class: "convlab-drop-marker", "aria-hidden": "true" });
  const list = h("ol", { class: "convlab-stack", role: "listbox", "aria-label": "Layer stack" });
  const inputRow = h("div", { class: "convlab-input-row" });
  const stackBox = h("div", { class: "convlab-stack-box" }, stackHead(), inputRow, list, marker);
  const footerBox = h("div", { class: "convlab-footer-box" });
  const codeBox = h("div", { class: "convlab-code" });
  const bar = toolbar(model, state, send);

  // A clicked card goes after the selected row, but never below the output layer (Python names it):
  // a layer after the classifier's head would make the model invalid.
  const addAt = (type) => {
    const view = model.get("view");
    const end = view.output_index ?? view.rows.length;
    const index = state.selected === null ? end : Math.min(state.selected + 1, end);
    send({ intent: "add", type, index });
    state.selected = index;
    state.editing = false;
  };
  const endDrag = () => {
    state.drag = null;
    root.classList.remove("is-dragging", "is-dragging-row");
    marker.style.display = "none";
  };
  const palette = renderPalette(model.get("catalog"), {
    onAdd: addAt,
    onDragStart: (drag) => {
      state.drag = drag;
      root.classList.add("is-dragging");
    },
    onDragEnd: endDrag,
  });
  // Dropping a row back onto the palette removes it ("drag it out").
  palette.addEventListener("dragover", (event) => {
    if (state.drag && state.drag.source === "row") event.preventDefault();
  });
  palette.addEventListener("drop", (event) => {
    if (!state.drag || state.drag.source !== "row") return;
    event.preventDefault();
    send({ intent: "remove", index: state.drag.index });
    endDrag();
  });

  const handlers = {
    // A click (or Enter) on the selected row folds its form; on another row, opens that row's form.
    select: (index) => {
      state.editing = !(state.selected === index && state.editing);
      state.selected = index;
      state.focusAfterRender = true;
      draw();
    },
    remove: (index) => send({ intent: "remove", index }),
    fix: (index) => send({ intent: "fix", index }),
    toggleExpanded: (index) => {
      if (state.expanded.has(index)) state.expanded.delete(index);
      else state.expanded.add(index);
      draw();
    },
  };

  const sendParam = (name, value, raw = false) => {
    if (state.selected === null) return;
    send({ intent: "update", index: state.selected, name, value, raw });
  };

  list.addEventListener("dragstart", (event) => {
    const row = event.target.closest && event.target.closest(".convlab-row");
    if (!row) return;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", row.dataset.type);
    state.drag = { source: "row", index: Number(row.dataset.index) };
    root.classList.add("is-dragging", "is-dragging-row");
  });
  list.addEventListener("dragend", endDrag);
  stackBox.addEventListener("dragover", (event) => {
    if (!state.drag) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = state.drag.source === "palette" ? "copy" : "move";
    const index = dropIndex(list, event.clientY);
    state.drag.to = index;
    marker.style.display = "block";
    marker.style.top = `${list.offsetTop + markerTop(list, index) - 1}px`;
    marker.dataset.index = index;
  });
  stackBox.addEventListener("dragleave", (event) => {
    if (!stackBox.contains(event.relatedTarget)) marker.style.display = "none";
  });
  stackBox.addEventListener("drop", (event) => {
    if (!state.drag) return;
    event.preventDefault();
    const to = dropIndex(list, event.clientY);
    if (state.drag.source === "palette") {
      send({ intent: "add", type: state.drag.type, index: to });
      state.selected = to;
      state.editing = false;
    } else {
      const from = state.drag.index;
      const target = to > from ? to - 1 : to;
      if (target !== from) send({ intent: "move", from, to: target });
      state.selected = target;
    }
    endDrag();
  });

  list.addEventListener("keydown", (event) => {
    const rowNode = event.target.closest(".convlab-row");
    if (!rowNode || event.target !== rowNode) return;
    const index = Number(rowNode.dataset.index);
    const count = model.get("view").rows.length;
    const focusRow = (i) => {
      state.selected = Math.max(0, Math.min(count - 1, i));
      state.focusAfterRender = true;
      draw();
    };
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      const to = index + (event.key === "ArrowUp" ? -1 : 1);
      if (to >= 0 && to < count) {
        send({ intent: "move", from: index, to });
        state.selected = to;
        state.focusAfterRender = true;
      }
    } else if (event.key === "ArrowUp") focusRow(index - 1);
    else if (event.key === "ArrowDown") focusRow(index + 1);
    else if (event.key === "Home") focusRow(0);
    else if (event.key === "End") focusRow(count - 1);
    else if (event.key === "Delete" || event.key === "Backspace") {
      send({ intent: "remove", index });
      state.selected = count > 1 ? Math.min(index, count - 2) : null;
      state.focusAfterRender = true;
    } else if (event.key === "Enter" || event.key === " ") handlers.select(index);
    else if (event.key === "Escape") {
      state.editing = false;
      draw();
    } else return;
    event.preventDefault();
  });

  root.addEventListener("keydown", (event) => {
    const tag = event.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    const ctrl = event.ctrlKey || event.metaKey;
    if (!ctrl) return;
    const key = event.key.toLowerCase();
    if (key === "z" && !event.shiftKey) send({ intent: "undo" });
    else if ((key === "z" && event.shiftKey) || key === "y") send({ intent: "redo" });
    else return;
    event.preventDefault();
    event.stopPropagation(); // JupyterLab must not undo a cell edit instead
  });

  function drawCode() {
    const show = model.get("show_code");
    codeBox.style.display = show ? "block" : "none";
    if (!show) return;
    const pre = h("pre", { class: "convlab-code-text" }, h("code", { text: model.get("code") }));
    const copy = h("button", { type: "button", class: "convlab-copy", text: "Copy" });
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(model.get("code"));
      } catch {
        const range = document.createRange();
        range.selectNodeContents(pre);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        document.execCommand("copy");
      }
      copy.textContent = "Copied ✓";
      setTimeout(() => (copy.textContent = "Copy"), 1500);
    });
    codeBox.replaceChildren(h("div", { class: "convlab-code-head" }, h("span", { text: "Keras code for this architecture" }), copy), pre);
  }

  function drawNotice() {
    const n = model.get("notice");
    notice.textContent = n && n.text ? n.text : "";
    notice.className = `convlab-notice ${n && n.kind ? n.kind : ""}`;
  }

  function draw() {
    const view = model.get("view");
    // Rows are rebuilt on every view: a focused row (the keyboard's place, e.g. after Ctrl+Z) gets its
    // focus back, or the next shortcut would go to JupyterLab instead.
    const focused = document.activeElement;
    const focusedRow = focused && focused.parentNode === list && focused.classList.contains("convlab-row")
      ? Number(focused.dataset.index)
      : null;
    const rows = view.rows;
    if (state.selected !== null && state.selected >= rows.length) state.selected = rows.length ? rows.length - 1 : null;
    bar.update(view);
    const m = view.data_mismatch;
    mismatch.replaceChildren(
      ...(m
        ? [
            h("span", { text: m.text }),
            ...m.fixes.map((fix) =>
              h("button", { type: "button", class: "convlab-data-fix", text: fix.label, onclick: () => send({ intent: "data_fix", action: fix.action }) }),
            ),
          ]
        : []),
    );
    inputRow.replaceChildren(
      h("span", { class: "convlab-index", text: "in" }),
      h("span", { class: "convlab-type", text: "Input" }),
      h("span", { class: "convlab-shape", text: formatShape(view.input_shape) }),
    );
    const nodes = rows.map((row) => renderRow(row, state, handlers));
    if (state.selected !== null && state.editing) {
      const row = rows[state.selected];
      const spec = specs[row.type];
      let form = state.editor;
      if (!form || Number(form.dataset.index) !== row.index || form.dataset.type !== row.type) {
        form = renderEditor(spec, row, sendParam);
        state.editor = form;
      } else refreshEditor(form, row);
      nodes[state.selected].append(form);
    } else state.editor = null;
    if (!rows.length) nodes.push(h("li", { class: "convlab-empty", text: "Empty: drag a layer here from the palette." }));
    list.replaceChildren(...nodes);
    footerBox.replaceChildren(footer(view));
    root.dataset.revision = view.revision;
    root.dataset.valid = String(view.valid);
    const refocus = state.focusAfterRender && state.selected !== null ? state.selected : focusedRow;
    state.focusAfterRender = false;
    if (refocus !== null) {
      const node = list.querySelector(`.convlab-row[data-index="${Math.min(refocus, rows.length - 1)}"]`);
      if (node) node.focus({ preventScroll: true });
      else root.focus({ preventScroll: true });
    }
  }

  root.append(bar, notice, mismatch, h("div", { class: "convlab-body" }, palette, h("div", { class: "convlab-main" }, stackBox, footerBox)), codeBox);
  draw();
  drawCode();
  drawNotice();

  const onView = () => draw();
  const onCatalog = () => {
    specs = catalogByType();
    draw();
  };
  model.on("change:view", onView);
  model.on("change:catalog", onCatalog);
  model.on("change:code", drawCode);
  model.on("change:show_code", () => {
    drawCode();
    bar.update(model.get("view"));
  });
  model.on("change:notice", drawNotice);
  return () => {
    model.off("change:view", onView);
    model.off("change:catalog", onCatalog);
    model.off("change:code", drawCode);
    model.off("change:show_code");
    model.off("change:notice", drawNotice);
  };
}

export default { render };
