// Seed of the Builder: renders the layer stack that Python owns and sends
// edit intents back. The front end never changes the stack itself; Python
// applies each intent and syncs the new state, so both sides always agree.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render({ model, el: root }) {
  root.classList.add("convlab-builder");

  const palette = el("div", "convlab-palette");
  const stack = el("ol", "convlab-stack");
  root.append(palette, stack);

  const drawPalette = () => {
    palette.replaceChildren(
      ...model.get("palette").map((type) => {
        const card = el("button", "convlab-card", type);
        card.type = "button";
        card.dataset.layer = type;
        card.addEventListener("click", () => model.send({ intent: "add", layer: type }));
        return card;
      }),
    );
  };

  const drawStack = () => {
    stack.replaceChildren(
      ...model.get("layers").map((type, index) => {
        const row = el("li", "convlab-row", type);
        row.dataset.index = String(index);
        return row;
      }),
    );
  };

  drawPalette();
  drawStack();
  model.on("change:palette", drawPalette);
  model.on("change:layers", drawStack);
  return () => {
    model.off("change:palette", drawPalette);
    model.off("change:layers", drawStack);
  };
}

export default { render };
