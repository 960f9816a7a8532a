"""token_id_rows: padded token-id rows for TokenBagEncoder (no torch needed)."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from skcrossmodal.encoders import token_id_rows


def test_ids_follow_the_vectorizer_vocabulary_shifted_by_one():
    """Token j of vocabulary_ gets id j + 1, in text order; 0 pads; unknown dropped."""
    texts = ["The cat sat", "a dog", "the unseen cat cat"]
    vectorizer = CountVectorizer().fit(texts[:2])
    vocabulary = vectorizer.vocabulary_
    ids = token_id_rows(texts, vectorizer)
    expected = np.zeros((3, 3), dtype=np.int64)
    expected[0] = [vocabulary["the"] + 1, vocabulary["cat"] + 1, vocabulary["sat"] + 1]
    expected[1, :1] = [vocabulary["dog"] + 1]  # "a" is below the token pattern
    expected[2] = [vocabulary["the"] + 1, vocabulary["cat"] + 1, vocabulary["cat"] + 1]
    assert_array_equal(ids, expected)
    assert ids.dtype == np.int64


def test_ngrams_and_tfidf_vectorizers_use_their_analyzer():
    """A vectorizer's own analyzer is used: bigrams become ids too."""
    texts = ["red round ball", "red cube"]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2)).fit(texts)
    ids = token_id_rows(texts[1:], vectorizer)
    names = vectorizer.get_feature_names_out()
    assert [names[i - 1] for i in ids[0]] == ["red", "cube", "red cube"]


def test_mapping_vocabulary_with_an_analyzer_and_max_tokens():
    """A plain mapping with a custom analyzer; max_tokens cuts and pads."""
    vocabulary = {"x": 0, "y": 1, "z": 2}
    ids = token_id_rows(["x-y-z-x", "z"], vocabulary, analyzer=lambda t: t.split("-"))
    assert_array_equal(ids, [[1, 2, 3, 1], [3, 0, 0, 0]])
    assert_array_equal(token_id_rows(["X Y Z"], vocabulary, max_tokens=2), [[1, 2]])
    assert_array_equal(token_id_rows(["w", ""], vocabulary), [[0], [0]])


@pytest.mark.parametrize(
    ("documents", "vocabulary", "params", "error", "match"),
    [
        ("one text", {"a": 0}, {}, TypeError, "single string"),
        (["a"], CountVectorizer(), {}, NotFittedError, "not fitted"),
        (["a"], ["a"], {}, TypeError, "mapping from token to index"),
        (["a"], {"a": 1}, {}, ValueError, "distinct integers 0 to"),
        (["a"], {"a": 0}, {"max_tokens": 0}, ValueError, "max_tokens"),
    ],
)
def test_bad_input_is_refused(documents, vocabulary, params, error, match):
    """A single string, an unfitted vectorizer, bad indices: clear errors."""
    with pytest.raises(error, match=match):
        token_id_rows(documents, vocabulary, **params)


def test_encoders_module_imports_without_torch():
    """Importing skcrossmodal.encoders and using token_id_rows never imports torch."""
    code = """
        import sys
        from skcrossmodal.encoders import token_id_rows
        print(token_id_rows(["a b"], {"a": 0, "b": 1}).tolist(), "torch" in sys.modules)
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["[[1,", "2]]", "False"]
