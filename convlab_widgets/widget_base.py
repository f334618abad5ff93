"""What every widget of the package does with keyword arguments it does not know: refuse them.

``ConvLab(datset="mnist")`` must not quietly train on digits.  ipywidgets
accepts any trait name and ignores the rest without a word, so each widget
checks its keywords first, against its own parameters and its traits, and
names the closest one.
"""

from __future__ import annotations

import difflib
import inspect

import ipywidgets as widgets

#: The hover text of a description widget (a text field, a checkbox): ipywidgets 8 calls it ``tooltip``
#: (``description_tooltip`` is deprecated there); 7.7, Colab's, knows only ``description_tooltip``.
#: Buttons have ``tooltip`` in both.
TOOLTIP = "tooltip" if "tooltip" in widgets.Checkbox.class_trait_names() else "description_tooltip"


def check_keywords(cls: type, kwargs: dict) -> None:
    """Raise ``TypeError`` for a keyword that neither ``cls``'s constructor nor its traits know."""
    known = set(cls.class_trait_names()) if hasattr(cls, "class_trait_names") else set()
    own = {name for name, p in inspect.signature(cls.__init__).parameters.items()
           if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and name != "self"}
    for name in kwargs:
        if name not in known and name not in own:
            close = difflib.get_close_matches(name, sorted(own | {k for k in known if not k.startswith("_")}), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {name!r}{hint}")
