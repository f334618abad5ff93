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
from .threads import answer_while_blocked, note_widget_message
from .widget_base import check_keywords


class Monitor(anywidget.AnyWidget):
    _esm = bundle("monitor.js")
    _css = bundle("monitor.css")

    # The model contract with js/src/monitor.js.
    active = traitlets.Bool(False, help="While True the browser sends a heartbeat every ``interval_ms``: the "
                                        "kernel then draws the run's new events. Default: False.").tag(sync=True)
    interval_ms = traitlets.Int(250, min=50, help="Milliseconds between heartbeats. Default: 250.").tag(sync=True)
    state = traitlets.Dict(help="What the monitor shows: status (one of ``status.STATUSES``, 'idle' or 'not "
                                "started'), message, badge, epoch/epochs, step/steps, fraction, samples_per_sec, "
                                "elapsed, eta, ended (True once the run has ended: epoch then counts the epochs "
                                "it finished, and no step is shown). Default: {} (idle).").tag(sync=True)

    def __init__(self, **kwargs):
        check_keywords(type(self), kwargs)
        super().__init__(**kwargs)
        answer_while_blocked(self)
        self._beat_callbacks = []
        self._escape_callbacks = []
        self.on_msg(self._on_message)

    def on_beat(self, callback) -> None:
        """Call ``callback()`` on the main thread at every heartbeat."""
        self._beat_callbacks.append(callback)

    def on_escape(self, callback) -> None:
        """Call ``callback()`` when Escape is pressed inside the dashboard this monitor is part of."""
        self._escape_callbacks.append(callback)

    def _on_message(self, _widget, content, _buffers) -> None:
        note_widget_message()
        if "beat" in content:
            for callback in list(self._beat_callbacks):
                callback()
        if "escape" in content:
            for callback in list(self._escape_callbacks):
                callback()
