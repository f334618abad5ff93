"""The Builder widget: a stack of layers that Python owns and the browser edits.

The browser only sends intents ("add this layer"); Python applies them and
syncs the resulting state back, so Python stays the single source of truth.
"""

import anywidget
import traitlets

from ._static import bundle

DEFAULT_PALETTE = ["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout"]


class Builder(anywidget.AnyWidget):
    _esm = bundle("builder.js")
    _css = bundle("builder.css")

    palette = traitlets.List(traitlets.Unicode(), default_value=DEFAULT_PALETTE).tag(sync=True)
    layers = traitlets.List(traitlets.Unicode()).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_msg(self._on_intent)

    def _on_intent(self, _widget, content, _buffers):
        if content.get("intent") == "add" and content.get("layer") in self.palette:
            self.layers = [*self.layers, content["layer"]]
