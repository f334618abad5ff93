// The inline parameter form of one row, generated from the catalog entry.
// Text is sent after a pause (debounced) or on Enter/blur, never per keystroke;
// what the user typed is kept even when Python rejects it.

import { debounce, h } from "../dom.js";

const DEBOUNCE_MS = 400;

function toText(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

function field(spec, value, send) {
  const id = `convlab-${spec.name}-${Math.random().toString(36).slice(2, 8)}`;
  let input;
  if (spec.kind === "bool") {
    input = h("input", { type: "checkbox", id, role: "switch", class: "convlab-toggle" });
    input.checked = Boolean(value);
    input.addEventListener("change", () => send(spec.name, input.checked));
  } else if (spec.kind === "choice") {
    input = h(
      "select",
      { id },
      spec.choices.map((choice) => h("option", { value: choice, text: choice })),
    );
    input.value = value;
    input.addEventListener("change", () => send(spec.name, input.value));
  } else {
    const numeric = spec.kind === "int" || spec.kind === "float";
    input = h("input", {
      id,
      type: numeric ? "number" : "text",
      min: numeric ? spec.minimum : undefined,
      max: numeric ? spec.maximum : undefined,
      step: spec.kind === "int" ? (spec.even ? 2 : 1) : numeric ? "any" : undefined,
      placeholder: spec.optional ? "None" : spec.kind === "size" ? "3 or 3, 3" : undefined,
      spellcheck: "false",
      autocomplete: "off",
    });
    input.value = toText(value);
    // Enter flushes and the following change event would flush again: send each text once.
    let sent = input.value;
    const commit = () => {
      if (input.value === sent) return;
      sent = input.value;
      send(spec.name, input.value, true);
    };
    const later = debounce(commit, DEBOUNCE_MS);
    input.addEventListener("input", later);
    input.addEventListener("change", later.flush);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") later.flush();
      event.stopPropagation(); // typing never triggers row shortcuts (Delete, Ctrl+Z)
    });
  }
  input.dataset.param = spec.name;
  input.title = spec.doc;
  return h("label", { class: "convlab-field", for: id, title: spec.doc }, h("span", { text: spec.name }), input);
}

export function renderEditor(spec, row, send) {
  const form = h("form", { class: "convlab-editor", dataset: { index: row.index, type: row.type } });
  form.addEventListener("submit", (event) => event.preventDefault());
  for (const param of spec.params) form.append(field(param, row.params[param.name], send));
  if (!spec.params.length) form.append(h("span", { class: "convlab-muted", text: "No parameters to set." }));
  return form;
}

// Refreshes values from Python without touching the field being typed in.
export function refreshEditor(form, row) {
  for (const input of form.querySelectorAll("[data-param]")) {
    if (input === document.activeElement) continue;
    const value = row.params[input.dataset.param];
    if (input.type === "checkbox") input.checked = Boolean(value);
    else input.value = toText(value);
  }
}
