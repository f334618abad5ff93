"""Every string that reaches HTML goes through :func:`escape`.

Run names, class names, folder names, layer names and messages come from
learners and from lab files; ipywidgets' HTML widget sets ``innerHTML``
without sanitising, so text is escaped where it is put into markup, by this
one helper, quotes included (it also lands in attributes such as ``title``).
"""

from __future__ import annotations

import html as _html


def escape(value: object) -> str:
    """``value`` as text that shows literally inside an element or a quoted attribute."""
    return _html.escape(str(value), quote=True)
