// The live architecture view: one row per layer with its short parameters,
// output shape, parameter count, share bar and data-cube glyph. Everything
// shown comes from Python's summary; this file only lays it out.

import { cube } from "./cube.js";
import { formatCompact, formatCount, formatShape, h } from "../dom.js";

// The hover text of a row: the full name first, since a narrow column cuts the type and label short.
function rowTitle(row) {
  const name = `${row.type} ${row.label}`.trim();
  if (!row.output_shape) return name;
  return [
    `${name}: output ${formatShape(row.output_shape)}`,
    `${formatCount(row.param_count)} parameters (${formatCount(row.trainable_count)} trainable)`,
    `${formatCompact(row.macs)} multiply-adds per image`,
    `${formatCount(row.activations)} activation values per image`,
  ].join("\n");
}

function innerRows(row) {
  return h(
    "ul",
    { class: "convlab-inner" },
    row.inner.map((inner) =>
      h(
        "li",
        { class: "convlab-inner-row" },
        h("span", { class: "convlab-inner-name", text: inner.name }),
        h("span", { class: "convlab-short", text: inner.label }),
        h("span", { class: "convlab-shape", text: formatShape(inner.output_shape) }),
        h("span", { class: "convlab-params", text: formatCount(inner.param_count) }),
      ),
    ),
  );
}

// Column names over the rows, in the rows' own grid so each sits over its column.
export function stackHead() {
  return h(
    "div",
    { class: "convlab-stack-head", "aria-hidden": "true" },
    h("span", { class: "convlab-index", text: "#" }),
    h("span"),
    h("span"),
    h("span", { text: "layer" }),
    h("span", { class: "convlab-head-short", text: "settings" }),
    h("span", { text: "output shape" }),
    h("span", { class: "convlab-head-params", text: "params" }),
    h("span", { class: "convlab-head-share", text: "share" }),
    h("span"),
  );
}

export function renderRow(row, state, handlers) {
  const expanded = state.expanded.has(row.index);
  const classes = ["convlab-row"];
  if (row.error) classes.push("has-error");
  if (row.unknown) classes.push("is-unknown");
  if (state.selected === row.index) classes.push("is-selected");
  if (row.heaviest) classes.push("is-heaviest");
  const node = h("li", {
    class: classes.join(" "),
    tabindex: "0",
    draggable: "true",
    role: "option",
    "aria-selected": state.selected === row.index ? "true" : "false",
    "aria-label": `${row.index + 1}. ${row.type} ${row.label}, output ${formatShape(row.output_shape)}`,
    title: rowTitle(row),
    dataset: { index: row.index, type: row.type },
  });
  const toggle = row.inner && row.inner.length
    ? h("button", {
        type: "button",
        class: "convlab-expand",
        "aria-label": expanded ? "Hide inner layers" : "Show inner layers",
        text: expanded ? "▾" : "▸",
        onClick: (event) => {
          event.stopPropagation();
          handlers.toggleExpanded(row.index);
        },
      })
    : h("span", { class: "convlab-expand-spacer" });
  const main = h(
    "div",
    { class: "convlab-row-main" },
    h("span", { class: "convlab-index", text: row.index + 1 }),
    toggle,
    cube(row.output_shape),
    h("span", { class: "convlab-type", text: row.type }),
    h("span", { class: "convlab-short", text: row.label }),
    h("span", { class: "convlab-shape", text: row.unknown ? "unknown" : formatShape(row.output_shape) }),
    h("span", { class: "convlab-params", text: row.unknown ? "–" : formatCount(row.param_count) }),
    h(
      "span",
      { class: "convlab-share", title: `${((row.share || 0) * 100).toFixed(1)}% of all parameters` },
      h("span", { class: "convlab-share-bar", style: `width:${Math.max(0, Math.min(100, (row.share || 0) * 100))}%` }),
    ),
    h("button", {
      type: "button",
      class: "convlab-remove",
      "aria-label": `Remove ${row.type} #${row.index + 1}`,
      title: "Remove this layer (Delete)",
      text: "×",
      onClick: (event) => {
        event.stopPropagation();
        handlers.remove(row.index);
      },
    }),
  );
  node.append(main);
  if (row.error) {
    node.append(
      h(
        "div",
        { class: "convlab-error", role: "alert" },
        h("span", { class: "convlab-error-text", text: row.error.message }),
        row.error.fix
          ? h("button", {
              type: "button",
              class: "convlab-fix",
              text: row.error.fix,
              onClick: (event) => {
                event.stopPropagation();
                handlers.fix(row.index);
              },
            })
          : null,
      ),
    );
  }
  if (expanded && row.inner && row.inner.length) node.append(innerRows(row));
  main.addEventListener("click", () => handlers.select(row.index));
  return node;
}

// Where a drop at clientY would land: the index of the gap between rows.
export function dropIndex(list, clientY) {
  const rows = [...list.querySelectorAll(":scope > .convlab-row")];
  for (const row of rows) {
    const box = row.getBoundingClientRect();
    if (clientY < box.top + box.height / 2) return Number(row.dataset.index);
  }
  return rows.length;
}

export function markerTop(list, index) {
  const rows = [...list.querySelectorAll(":scope > .convlab-row")];
  const listBox = list.getBoundingClientRect();
  if (!rows.length) return 0;
  if (index >= rows.length) return rows[rows.length - 1].getBoundingClientRect().bottom - listBox.top;
  return rows[index].getBoundingClientRect().top - listBox.top;
}
