"""Displaying a widget with its static twin (:mod:`convlab_widgets.twin`), and keeping the twin current.

The twin is a second output of the cell, kept by its display handle; redrawing
it sends ``update_display_data`` from a kernel thread (a monitor observer, a
user's call), never from the training thread.
"""

from __future__ import annotations

from .training.status import TERMINAL


class Twinned:
    """A widget displayed with its static twin: the live view, then (``static_snapshot``) the twin, as two
    outputs of the cell; the twin is redrawn through its display handles when a run ends and on request."""

    @classmethod
    def _check_twin(cls, static_snapshot) -> None:
        """Refuse a wrong ``static_snapshot`` before the widget builds anything."""
        if not isinstance(static_snapshot, bool):
            raise TypeError(f"{cls.__name__}: static_snapshot must be True or False, got {static_snapshot!r}")

    def _setup_twin(self, static_snapshot: bool, monitor=None) -> None:
        """``monitor``: the run monitor whose end of a run redraws the twin (None: the widget redraws it)."""
        self.static_snapshot = static_snapshot
        self._twins: list = []  # display handles of this widget's twins, one per display
        self.add_class("convlab-live")  # what the twin's style rule looks for in its output area
        if monitor is not None:
            monitor.observe(self._refresh_when_ended, names="state")

    def _twin_html(self) -> str:
        raise NotImplementedError

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        bundle = getattr(super(), "_repr_mimebundle_", None)
        if bundle is not None:  # ipywidgets 8; anywidget's answers (data, metadata)
            data = bundle()
            data, metadata = data if isinstance(data, tuple) else (data, None)
            display(data, metadata=metadata, raw=True)
        else:  # ipywidgets 7 displays itself
            super()._ipython_display_()
        if self.static_snapshot:
            self._twins.append(display(HTML(self._twin_html()), display_id=True))

    def refresh_static_snapshot(self) -> None:
        """Redraw this widget's static twins (done when a run ends, a lab also when it is saved, a builder
        at every edit)."""
        if not self._twins:
            return
        from IPython.display import HTML

        html = HTML(self._twin_html())
        for handle in self._twins:
            handle.update(html)

    def _refresh_when_ended(self, change) -> None:
        status = change["new"].get("status")
        if change["old"].get("status") != status and status in TERMINAL:
            self.refresh_static_snapshot()  # the notebook keeps the run's final picture
