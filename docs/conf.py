"""Sphinx configuration of the skcrossmodal documentation.

Build (from the repository root; warnings are errors, examples are executed):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Everything is offline: no intersphinx inventories are fetched and the examples
use only data bundled with scikit-learn or simulated on the spot.
"""

import os

import skcrossmodal

# Examples draw their figures off-screen, as in CI.
os.environ.setdefault("MPLBACKEND", "Agg")

project = "skcrossmodal"
author = "skcrossmodal developers"
copyright = "skcrossmodal developers, BSD-3-Clause"  # noqa: A001
version = release = skcrossmodal.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**/*.ipynb", "auto_examples/*.md5"]
root_doc = "index"
default_role = "literal"

# --- API reference ---------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# numpydoc lists methods itself through the class template; sphinx's own member
# table would document every method twice.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# --- Example gallery -------------------------------------------------------


sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "backreferences_dir": os.path.join("gen_modules", "backreferences"),
    "doc_module": ("skcrossmodal",),
    "reference_url": {"skcrossmodal": None},
    "reset_modules": ("matplotlib",),
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "plot_gallery": "True",
    # One failing example fails the build (and so CI).
    "only_warn_on_example_error": False,
    "abort_on_example_error": False,
    "show_memory": False,
    "min_reported_time": 1,
}

# --- HTML output -----------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skcrossmodal {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
}
html_show_sourcelink = False
