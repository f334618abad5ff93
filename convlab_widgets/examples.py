"""``python -m convlab_widgets.examples [DEST]``: copy the example notebooks out of the package.

A pip install has no ``examples/`` folder beside it: the wheel carries the
notebooks inside the package (``convlab_widgets/notebooks/``), and this command
copies them into a folder of the user's, where they can be opened and edited.
It never overwrites: a notebook already at the destination may hold a
learner's own edits, so the copy is refused, with the files named, before
anything is written.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

DEFAULT_DEST = "convlab_examples"


def source() -> Path:
    """The notebooks' folder: inside an installed wheel, else the source tree's ``examples/``."""
    here = Path(__file__).resolve().parent
    for folder in (here / "notebooks", here.parent / "examples"):
        if any(folder.glob("*.ipynb")):
            return folder
    raise FileNotFoundError(f"no example notebooks in {here / 'notebooks'}: reinstall convlab-widgets from its wheel")


def notebooks() -> list[Path]:
    """The example notebooks, in lesson order."""
    return sorted(source().glob("*.ipynb"))


def copy_to(dest: str | Path) -> list[Path]:
    """Copy every example notebook into ``dest`` (made if missing); the copies' paths.

    Raises ``FileExistsError`` naming the notebooks already in ``dest``, having written nothing."""
    dest = Path(dest)
    targets = [(path, dest / path.name) for path in notebooks()]
    taken = [str(target) for _, target in targets if target.exists()]
    if taken:
        raise FileExistsError(f"not copied: {', '.join(taken)} already exist{'s' if len(taken) == 1 else ''}; "
                              "move them away or choose another folder (python -m convlab_widgets.examples DEST)")
    dest.mkdir(parents=True, exist_ok=True)
    for path, target in targets:
        shutil.copyfile(path, target)
    return [target for _, target in targets]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convlab_widgets.examples",
                                     description="Copy the example notebooks into a folder (never overwriting).")
    parser.add_argument("dest", nargs="?", default=DEFAULT_DEST, help=f"where to copy them (default: {DEFAULT_DEST})")
    args = parser.parse_args(argv)
    try:
        copied = copy_to(args.dest)
    except OSError as error:  # notebooks already there, none shipped, a destination that cannot be written
        print(error, file=sys.stderr)
        return 1
    for path in copied:
        print(path)
    print(f"Open them with: jupyter lab {copied[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
