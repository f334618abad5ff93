// The palette: layer cards grouped as the catalog groups them. A card is
// dragged into the stack, or added after the selected row with Enter/click.

import { h } from "../dom.js";

const GROUP_TITLES = {
  convolution: "Convolution",
  pooling: "Pooling",
  core: "Core",
  regularization: "Regularization",
  blocks: "Blocks",
  augmentation: "Augmentation",
};

export function renderPalette(catalog, { onAdd, onDragStart, onDragEnd }) {
  const groups = catalog.groups.map((group) => {
    const cards = catalog.layers
      .filter((layer) => layer.group === group)
      .map((layer) =>
        h(
          "button",
          {
            type: "button",
            class: `convlab-card group-${group}`,
            draggable: "true",
            title: layer.doc,
            dataset: { layer: layer.type },
            "aria-label": `Add ${layer.type}: ${layer.doc}`,
            onClick: () => onAdd(layer.type),
            onDragStart: (event) => {
              event.dataTransfer.effectAllowed = "copy";
              event.dataTransfer.setData("text/plain", layer.type);
              onDragStart({ source: "palette", type: layer.type });
            },
            onDragEnd: () => onDragEnd(),
          },
          layer.type,
        ),
      );
    return h(
      "section",
      { class: "convlab-group", dataset: { group } },
      h("h4", { text: GROUP_TITLES[group] || group }),
      h("div", { class: "convlab-cards" }, cards),
    );
  });
  return h(
    "aside",
    { class: "convlab-palette", "aria-label": "Layer palette" },
    h("div", { class: "convlab-palette-hint", text: "Drag a card into the stack, or press Enter to add it after the selected row, above the output layer." }),
    groups,
  );
}
