"""Where the esbuild bundle lives, and a clear message when it was never built."""

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def bundle(name: str) -> Path:
    """Path of a built front-end file; fails with the fix when js/ was not built."""
    path = STATIC / name
    if not path.exists():
        raise FileNotFoundError(
            f"The front-end bundle {path} is missing. It is built from js/ when the "
            "package is installed; in a source checkout run `npm --prefix js install && "
            "npm --prefix js run build` (or `pip install -e .`)."
        )
    return path
