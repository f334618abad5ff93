"""The run monitor widget: badge, progress and status, and the front-end heartbeat.

The heartbeat is why the dashboard works everywhere: the browser sends a tiny
message a few times per second while a run is active, and the kernel handles
it on its main thread, which is the only thread allowed to touch widgets
(Colab does not show widget updates sent from other threads).
"""

from __future__ import annotations

import anywidget
import traitlets

from ._static import bundle
from .threads import note_widget_message


class Monitor(anywidget.AnyWidget):
    _esm = bundle("monitor.js")
    _css = bundle("monitor.css")

    active = traitlets.Bool(False).tag(sync=True)
    interval_ms = traitlets.Int(250).tag(sync=True)
    state = traitlets.Dict().tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._beat_callbacks = []
        self.on_msg(self._on_message)

    def on_beat(self, callback) -> None:
        """Call ``callback()`` on the main thread at every heartbeat."""
        self._beat_callbacks.append(callback)

    def _on_message(self, _widget, content, _buffers) -> None:
        note_widget_message()
        if "beat" in content:
            for callback in list(self._beat_callbacks):
                callback()
