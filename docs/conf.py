"""Sphinx configuration of the skcrossmodal documentation.

Build (from the repository root; warnings are errors, examples are executed):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Everything is offline: no intersphinx inventories are fetched and the examples
use only data bundled with scikit-learn or simulated on the spot.
"""

import os
import re
import sys

from docutils import nodes
from sphinx.transforms import SphinxTransform

import skcrossmodal

# gallery_order.py (next to this file) holds the gallery's sort key.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

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
autodoc_typehints = "none"
# The class template documents every method with autodoc; numpydoc's own
# member tables would list them a second time.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# Methods inherited from scikit-learn (get_params, set_output, the metadata
# routing requests, ...) keep scikit-learn's docstrings, whose :ref: and :term:
# roles point into scikit-learn's own documentation. Without intersphinx (the
# build is offline) those targets do not exist here, so render them as plain
# text -- only in docstrings that come from scikit-learn, so that a broken
# reference in this project's own docstrings still fails the build.
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")


# A reference to one of scikit-learn's gallery examples, by its label only.
_SKLEARN_EXAMPLE = re.compile(r"^sphx_glr_auto_examples_(?:\w+?_)?(plot_\w+)\.py$")


def _plain_role(match):
    title, target = match.group(1), match.group(2)
    if title:
        return f"*{title.strip()}*"
    example = _SKLEARN_EXAMPLE.match(target.strip())
    if example:  # a bare gallery label would print as "sphx_glr_auto_..."
        return f"scikit-learn's example *{example.group(1)}*"
    return f"*{target.strip()}*"


def _without_version_notes(lines):
    """Drop ``.. versionadded::``/``versionchanged`` blocks (their indented body).

    They give scikit-learn's version history ("Added in version 1.3"), which
    says nothing about this library's versions.
    """
    kept, skipping, indent = [], False, 0
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith((".. versionadded::", ".. versionchanged::")):
            skipping, indent = True, len(line) - len(stripped)
            continue
        if skipping and (not stripped or len(line) - len(stripped) > indent):
            continue
        skipping = False
        kept.append(line)
    return kept


def _plain_sklearn_roles(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if not module.startswith("sklearn."):
        return
    lines[:] = [_SKLEARN_ROLE.sub(_plain_role, line) for line in lines]
    lines[:] = _without_version_notes(lines)


def _readable_sklearn_defaults(app, what, name, obj, options, signature, annotation):
    """Show scikit-learn's metadata-request sentinel by its name, not its repr."""
    if signature and "'$UNCHANGED$'" in signature:
        signature = signature.replace("'$UNCHANGED$'", "UNCHANGED")
    return signature, annotation


class _NoMailtoLinks(SphinxTransform):
    """Keep "precision@10" as text: docutils would make it a mailto: link.

    These docs contain no e-mail addresses, so every such link is a metric name.
    """

    default_priority = 999

    def apply(self, **kwargs):
        for reference in list(self.document.findall(nodes.reference)):
            if reference.get("refuri", "").startswith("mailto:"):
                reference.replace_self(nodes.Text(reference.astext()))


# numpydoc renders the type of "name : type" lines as reStructuredText, where a
# word ending in "_" is a hyperlink reference: "ndarray of shape
# (n_features_in_,)" would look for a target named "n_features_in". Escape the
# trailing underscore of fitted-attribute names in types (unless quoted).
_TYPE_LINE = re.compile(r"^(\s*[\w*, ]+ : )(.*)$")
_TRAILING_UNDERSCORE = re.compile(r"\b(\w+)_(?=\W|$)")


def _escape_attribute_names_in_types(app, what, name, obj, options, lines):
    for index, line in enumerate(lines):
        match = _TYPE_LINE.match(line)
        if match is None or "`" in match.group(2):
            continue
        lines[index] = match.group(1) + _TRAILING_UNDERSCORE.sub(
            r"\1\\_", match.group(2)
        )


def setup(app):
    # Both run before numpydoc (priority 500) turns the sections into rst.
    app.connect("autodoc-process-docstring", _plain_sklearn_roles, priority=400)
    app.connect("autodoc-process-signature", _readable_sklearn_defaults)
    app.add_transform(_NoMailtoLinks)
    # Long lines of the examples' printed output wrap instead of being cut off.
    app.add_css_file("wrap_output.css")
    app.connect(
        "autodoc-process-docstring", _escape_attribute_names_in_types, priority=400
    )


# --- Example gallery -------------------------------------------------------


sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "backreferences_dir": os.path.join("gen_modules", "backreferences"),
    "doc_module": ("skcrossmodal",),
    "reset_modules": ("matplotlib",),
    "remove_config_comments": True,
    "within_subsection_order": "gallery_order.ExampleOrder",
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
html_static_path = ["_static"]
