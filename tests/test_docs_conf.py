"""The Sphinx hooks of docs/conf.py that clean up inherited scikit-learn docstrings."""

import importlib.util
import inspect
from pathlib import Path

import pytest

pytest.importorskip("sphinx")

from skcrossmodal import CrossModalEmbedding  # noqa: E402

CONF = Path(__file__).resolve().parents[1] / "docs" / "conf.py"


@pytest.fixture(scope="module")
def conf():
    spec = importlib.util.spec_from_file_location("skcrossmodal_docs_conf", CONF)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _processed(conf, obj):
    lines = inspect.getdoc(obj).splitlines()
    conf._plain_sklearn_roles(None, "method", "name", obj, {}, lines)
    return "\n".join(lines)


def test_inherited_docstrings_lose_gallery_labels_and_version_notes(conf):
    for method in ("set_output", "set_fit_request", "set_transform_request"):
        obj = getattr(CrossModalEmbedding, method, None)
        if obj is None:
            continue
        raw = inspect.getdoc(obj)
        text = _processed(conf, obj)
        assert "sphx_glr_" not in text and "versionadded" not in text
        assert ":ref:" not in text
        # Only the version notes went: the rest of the text is all there.
        assert len(text.split()) > 0.6 * len(raw.split())
    text = _processed(conf, CrossModalEmbedding.set_output)
    assert "scikit-learn's example *plot_set_output*" in text


def test_version_note_blocks_are_removed_with_their_body(conf):
    lines = [
        "Parameters",
        "    .. versionadded:: 1.4",
        '        `"polars"` option was added.',
        "",
        "Returns",
    ]
    assert conf._without_version_notes(lines) == ["Parameters", "Returns"]


def test_request_sentinel_shows_by_name(conf):
    signature = str(inspect.signature(CrossModalEmbedding().set_fit_request))
    shown, _ = conf._readable_sklearn_defaults(
        None, "method", "set_fit_request", None, {}, signature, None
    )
    assert "$UNCHANGED$" in signature and "$UNCHANGED$" not in shown


def test_metric_names_are_not_mail_links(conf):
    from docutils.core import publish_doctree

    document = publish_doctree("Class precision@10 of each model.")
    assert any(
        node.get("refuri", "").startswith("mailto:")
        for node in document.findall(lambda n: hasattr(n, "get"))
    )
    transform = conf._NoMailtoLinks.__new__(conf._NoMailtoLinks)
    transform.document = document
    transform.apply()
    assert "mailto" not in str(document)
    assert "precision@10" in document.astext()
