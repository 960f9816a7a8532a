"""Tests of ``python -m skcrossmodal``, run as a user would, in a subprocess."""

import importlib.util
import subprocess
import sys

import pytest

import skcrossmodal

HEADER = [
    "estimator",
    "fit_s",
    "recall@1 x->y",
    "recall@1 y->x",
    "recall@5 x->y",
    "recall@5 y->x",
    "mrr x->y",
    "mrr y->x",
]

# Runs the command with torch made unimportable, as on an install without it.
HIDE_TORCH = """
import runpy, sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError("No module named 'torch'", name=name)
        return None

sys.meta_path.insert(0, NoTorch())
runpy.run_module("skcrossmodal", run_name="__main__", alter_sys=True)
"""


def _run(args):
    completed = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.splitlines()


def _table(lines):
    """The rows under the header, as {label: [fit_s, score, ...]}."""
    start = next(i for i, line in enumerate(lines) if line.startswith("estimator"))
    header = [cell.strip() for cell in lines[start].split("  ") if cell.strip()]
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():  # a blank line ends the table
            break
        cells = line.rsplit(None, len(HEADER) - 1)
        rows[cells[0].strip()] = [float(value) for value in cells[1:]]
    return header, rows


@pytest.fixture(scope="module")
def output():
    return _run(["-m", "skcrossmodal"])


def test_table_header(output):
    """The table has the estimator, fit time and six score columns."""
    header, _ = _table(output)
    assert header == HEADER


def test_scores_are_fractions_and_times_are_not_negative(output):
    """Every score is a number in [0, 1], every fit time a non-negative number."""
    _, rows = _table(output)
    assert rows
    for values in rows.values():
        assert values[0] >= 0
        assert all(0.0 <= score <= 1.0 for score in values[1:])


def test_every_available_estimator_beats_chance(output):
    """Each row's recall@5 is well above chance (5 of 450 test pairs)."""
    _, rows = _table(output)
    for values in rows.values():
        assert min(values[3], values[4]) > 5 * 5 / 450


def test_linear_estimators_are_listed(output):
    """The estimators the package exports appear in the table."""
    _, rows = _table(output)
    assert "CrossModalEmbedding" in rows
    if hasattr(skcrossmodal, "SharedLatentRegression"):
        assert "SharedLatentRegression" in rows
    torch_usable = importlib.util.find_spec("torch") is not None
    if torch_usable:
        assert "ContrastiveAligner" in rows


def test_missing_torch_is_a_one_line_note():
    """Without torch the torch estimator is skipped with an install hint."""
    lines = _run(["-c", HIDE_TORCH])
    _, rows = _table(lines)
    assert "ContrastiveAligner" not in rows and "CrossModalEmbedding" in rows
    notes = [line for line in lines if "skipped" in line]
    assert notes == [
        "ContrastiveAligner skipped: torch is not installed (see the install docs; "
        "without a GPU: pip install torch --index-url "
        "https://download.pytorch.org/whl/cpu)."
    ]


def test_help_describes_the_command():
    """--help explains what the command does."""
    lines = _run(["-m", "skcrossmodal", "--help"])
    assert "digits" in " ".join(lines)


def test_first_line_names_the_imported_package(tmp_path):
    """Run from elsewhere, the command says which skcrossmodal it imported."""
    import os
    from pathlib import Path

    package = Path(skcrossmodal.__file__).resolve().parent
    env = dict(os.environ, PYTHONPATH=str(package.parent))
    completed = subprocess.run(
        [sys.executable, "-m", "skcrossmodal", "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr
    first = subprocess.run(
        [sys.executable, "-c", "import skcrossmodal.__main__ as m; m.main([])"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    ).stdout.splitlines()[0]
    assert first == f"skcrossmodal {skcrossmodal.__version__} from {package}"
