"""The README's Python example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    """Every ```python block of the README executes without error."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README should show a Python example"
    for block in blocks:
        namespace = {}
        exec(compile(block, str(README), "exec"), namespace)
        assert namespace["indices"].shape == (3, 5)


def test_readme_runs_the_main_job_outside_the_source_tree():
    """The install-and-run command leaves the clone before ``python -m``.

    From the clone's root ``python -m skcrossmodal`` imports the source folder
    next to it, so it would not test the installed package.
    """
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    (command,) = [block for block in blocks if "python -m skcrossmodal" in block]
    before_run = command.split("python -m skcrossmodal")[0]
    assert "pip install ." in before_run
    assert re.search(r"\bcd \S", before_run.split("pip install .")[1])


def test_readme_and_install_docs_agree_on_cpu_torch():
    """Both install CPU torch from PyTorch's CPU index, then the extra."""
    install = (README.parent / "docs" / "install.rst").read_text()
    command = "torch --index-url https://download.pytorch.org/whl/cpu"
    assert command in README.read_text() and command in install
    assert '.[dask]"' in README.read_text() and '".[dask]"' in install


def test_readme_bash_blocks_leave_the_shell_in_the_clone():
    """Every ``cd`` runs in a subshell, so the next block starts in the clone."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    for block in blocks:
        outside_subshells = re.sub(r"\([^()]*\)", "", block)
        assert not re.search(r"\bcd\b", outside_subshells), block


def test_readme_install_commands_resolve_from_a_clone():
    """No ``pip install "skcrossmodal[...]"``: the package name is not on an index."""
    text = README.read_text()
    assert not re.search(r"pip install ['\"]?skcrossmodal\[", text)
    assert 'python -m pip install -e ".[faiss]"' in text
