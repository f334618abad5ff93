"""The wheel a user installs carries the JS bundle and works without the source tree."""

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = [f"convlab_widgets/static/{name}.{ext}" for name in ("builder", "monitor") for ext in ("js", "css")]

pytestmark = [pytest.mark.packaging, pytest.mark.slow]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    (path,) = out.glob("convlab_widgets-*.whl")
    return path


def test_wheel_contains_the_js_bundle(wheel):
    listing = subprocess.run(["unzip", "-l", str(wheel)], check=True, capture_output=True, text=True).stdout
    for name in BUNDLE:
        assert name in listing, f"{name} missing from the wheel:\n{listing}"
    with zipfile.ZipFile(wheel) as archive:
        assert archive.getinfo(BUNDLE[0]).file_size > 200
        assert not [n for n in archive.namelist() if "node_modules" in n or n.startswith("js/")]


def test_wheel_contains_the_example_notebooks(wheel):
    with zipfile.ZipFile(wheel) as archive:
        shipped = sorted(n.rsplit("/", 1)[1] for n in archive.namelist() if n.startswith("convlab_widgets/notebooks/"))
    assert shipped == sorted(path.name for path in (ROOT / "examples").glob("*.ipynb")) and len(shipped) >= 6


def test_wheel_installs_and_imports_in_a_clean_venv(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # With one backend, as the README says to install it (JAX: the smallest download).
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"{wheel}[jax]"], check=True)
    probe = (
        "import convlab_widgets, pathlib\n"
        "from convlab_widgets import Builder\n"
        "assert 'site-packages' in convlab_widgets.__file__, convlab_widgets.__file__\n"
        "b = Builder()\n"
        "import keras\n"
        "assert keras.backend.backend() == 'jax', keras.backend.backend()  # picked: the only one installed\n"
        "print(len(b._esm), convlab_widgets.__version__)\n"
    )
    # A user of their own: the keras.json of this machine's user (and of tests running beside) is not read.
    own_user = {**os.environ, "KERAS_HOME": str(tmp_path / "keras-home")}
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=own_user)
    assert result.returncode == 0, result.stderr
    size, version = result.stdout.split()
    assert int(size) > 200 and version == "0.1.0"
    # Where a pip user gets the example notebooks, as the README says: copied out, never over their own.
    command = [str(python), "-m", "convlab_widgets.examples", "lessons"]
    copied = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert sorted(p.name for p in (tmp_path / "lessons").glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "examples").glob("*.ipynb"))
    (tmp_path / "lessons" / "01_quickstart.ipynb").write_text("my own edits")
    again = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 1 and "already exist" in again.stderr
    assert (tmp_path / "lessons" / "01_quickstart.ipynb").read_text() == "my own edits"
