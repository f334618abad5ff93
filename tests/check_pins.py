"""Fails when an installed package differs from Colab's pinned version.

Run in the fresh Colab-constrained virtualenv after installing convlab-widgets:
a difference would mean `pip install convlab-widgets` in Colab changes Colab.
``--absent NAME...``: packages that runtime does not have and the install must not pull in
(TensorFlow on the TPU runtime).
"""

import re
import sys
from importlib.metadata import PackageNotFoundError, version


def pins(path):
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            name, pinned = re.split(r"\s*==\s*", line)
            yield name, pinned


def main(path, absent=()):
    present = []
    for name in absent:
        try:
            present.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            print(f"  {name:22} not installed, as on Colab")
    if present:
        sys.exit(f"Installing convlab-widgets pulled in {', '.join(present)}, which Colab's runtime does not have.")
    changed = []
    for name, pinned in pins(path):
        try:
            installed = version(name)
        except PackageNotFoundError:
            print(f"  {name:22} not installed (not needed)")
            continue
        mark = "ok" if installed == pinned else "CHANGED"
        print(f"  {name:22} pinned {pinned:10} installed {installed:10} {mark}")
        if installed != pinned:
            changed.append(name)
    if changed:
        sys.exit(f"Installing convlab-widgets would change Colab's {', '.join(changed)}.")
    print("Colab's pinned stack is untouched.")


if __name__ == "__main__":
    args = sys.argv[1:]
    absent = args[args.index("--absent") + 1:] if "--absent" in args else []
    main(args[0], absent)
