"""Every gallery example runs to completion, offline, with the Agg backend.

The examples are the documentation users copy from; running them here keeps
them in step with the library. Each runs in a fresh namespace (``runpy``) with
warnings as errors (the suite's setting), so an example that starts warning
fails too. Examples that train ``ContrastiveAligner`` check for torch
themselves and skip that part, with a printed note, when it is absent.
"""

import runpy
import sys
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))


TORCH_EXAMPLES = [
    "plot_image_text_alignment",
    "plot_compare_estimators",
    "plot_raw_digits_captions",
    "plot_raw_sensor_windows",
    "plot_multiview",
]


@pytest.fixture
def agg_backend():
    """Draw off-screen and close every figure afterwards."""
    import matplotlib.pyplot as plt

    previous = matplotlib.get_backend()
    plt.switch_backend("Agg")
    yield
    plt.close("all")
    plt.switch_backend(previous)


def _run_example(path, monkeypatch):
    """Run one example as a script; return the figure numbers ``plt.show`` saw."""
    import matplotlib.pyplot as plt

    drawn = []
    monkeypatch.setattr(
        plt, "show", lambda *args, **kwargs: drawn.extend(plt.get_fignums())
    )
    monkeypatch.chdir(EXAMPLES_DIR)
    runpy.run_path(str(path), run_name="__main__")
    return drawn


def test_examples_are_found():
    """The gallery holds the documented examples."""
    names = {path.stem for path in EXAMPLES}
    assert names == {
        "plot_quickstart",
        "plot_image_text_alignment",
        "plot_raw_digits_captions",
        "plot_raw_sensor_windows",
        "plot_sensor_alignment",
        "plot_grid_search",
        "plot_compare_estimators",
        "plot_csls_hubness",
        "plot_dask_grid_search",
        "plot_semi_paired",
        "plot_zero_shot",
        "plot_multiview",
    }


@pytest.mark.usefixtures("agg_backend")
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs(path, monkeypatch, capsys):
    """The example runs without error or warning and draws at least one figure."""
    drawn = _run_example(path, monkeypatch)
    assert drawn, f"{path.name} drew no figure"
    assert capsys.readouterr().out, f"{path.name} printed nothing"


@pytest.mark.usefixtures("agg_backend")
@pytest.mark.parametrize("name", TORCH_EXAMPLES)
def test_example_skips_torch_part_without_torch(name, monkeypatch, capsys):
    """Without torch, an example skips its ContrastiveAligner part with a note."""
    # A None entry in sys.modules makes importlib.util.find_spec("torch")
    # return None and any "import torch" fail, as on a machine without torch.
    monkeypatch.setitem(sys.modules, "torch", None)
    drawn = _run_example(EXAMPLES_DIR / f"{name}.py", monkeypatch)
    assert drawn
    assert "torch is not installed: skipping ContrastiveAligner." in (
        capsys.readouterr().out
    )
