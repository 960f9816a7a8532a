"""Tests of the thread policy: thread counts, and BLAS held to one thread."""

import threading

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from skcrossmodal._numerics.ranks import paired_partner_ranks
from skcrossmodal._utils import threads
from skcrossmodal._utils.threads import one_blas_thread, thread_count


def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


class _ProcessWideBLAS:
    """A BLAS whose thread count is one number for the whole process.

    That is what threadpoolctl assumes, and what some builds do (others keep
    a count per thread, which hides the bug this guards against).
    """

    def __init__(self, n_threads):
        self.n_threads = n_threads

    def select(self, user_api):
        return self

    def info(self):
        return [{"num_threads": self.n_threads}]

    def limit(self, limits, user_api):
        blas = self

        class Limiter:  # threadpoolctl's: restores what it found on entry
            original = blas.n_threads

            def restore_original_limits(self):
                blas.n_threads = self.original

        limiter = Limiter()
        self.n_threads = limits
        return limiter


def _sixteen_at_once(work):
    """Run ``work`` in 16 threads released together; re-raise what they raise."""
    n_threads = 16
    entered = threading.Barrier(n_threads)
    errors = []

    def run():
        try:
            entered.wait()
            work()
        except BaseException as error:  # reported below, not lost in a thread
            errors.append(error)

    workers = [threading.Thread(target=run) for _ in range(n_threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors


def test_overlapping_calls_restore_the_blas_threads(monkeypatch):
    """16 threads inside one_blas_thread at once: afterwards BLAS is as before.

    threadpoolctl restores the limits it found on entry, so the second of two
    overlapping calls would restore the first one's single thread.
    """
    blas = _ProcessWideBLAS(4)
    monkeypatch.setattr(threads, "blas_controller", lambda: blas)
    inside = threading.Barrier(16)
    seen = []

    def fit():
        with one_blas_thread():
            seen.append((blas.n_threads, thread_count(None)))
            inside.wait()  # every thread holds the limit at once

    _sixteen_at_once(fit)
    assert blas.n_threads == 4
    # Inside, BLAS ran on one thread and the blocks could use what it had.
    assert {blas_threads for blas_threads, _ in seen} == {1}
    assert {count for _, count in seen} == {min(4, thread_count(-1))}


def test_overlapping_calls_leave_the_real_blas_as_before():
    """The same on the BLAS libraries numpy and scipy loaded."""
    inside = threading.Barrier(16)

    def fit():
        with one_blas_thread():
            inside.wait()

    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        with one_blas_thread():  # the main thread holds it too
            _sixteen_at_once(fit)
        after = _blas_threads()
    assert before and all(n == 2 for n in before)
    assert after == before


def test_overlapping_rank_computations_restore_the_blas_threads():
    """The same through a kernel: concurrent scoring leaves BLAS as it was."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = X + rng.normal(size=X.shape)
    results = []

    def score():
        results.append(paired_partner_ranks(X, y)[0])

    with threadpool_limits(limits=2, user_api="blas"):
        _sixteen_at_once(score)
        assert all(n == 2 for n in _blas_threads())
    assert len(results) == 16
    assert all(np.array_equal(r, results[0]) for r in results)


def test_thread_count_follows_the_blas_limit_and_n_jobs():
    """None follows threadpoolctl's limit; negative counts from the cores."""
    with threadpool_limits(limits=1, user_api="blas"):
        assert thread_count(None) == 1
        with one_blas_thread():
            assert thread_count(None) == 1
    assert thread_count(3) == 3
    assert thread_count(-1) >= 1
    assert thread_count(-(thread_count(-1) + 5)) == 1


def test_retrieve_embeds_in_blocks_as_in_one_piece_and_restores_blas():
    """retrieve's threaded row blocks equal transform + search, at any thread count.

    The gallery spans several embedding blocks; the answer must be the search
    over the embeddings transform gives, and the call must leave BLAS's
    thread limit as it found it.
    """
    from skcrossmodal import CrossModalEmbedding
    from skcrossmodal.retrieval import search_top_k

    rng = np.random.default_rng(3)
    latent = rng.normal(size=(9000, 4))
    X = (latent @ rng.normal(size=(4, 12)) + 0.3 * rng.normal(size=(9000, 12))).astype(
        np.float32
    )
    y = (latent @ rng.normal(size=(4, 10)) + 0.3 * rng.normal(size=(9000, 10))).astype(
        np.float32
    )
    model = CrossModalEmbedding(n_components=4).fit(X, y)
    expected = search_top_k(
        model.transform(X[:50]), model.transform(X, y)[1], n_neighbors=5
    )
    answers = []
    for limit in (1, 2):
        with threadpool_limits(limits=limit, user_api="blas"):
            answers.append(model.retrieve(X[:50], y, n_neighbors=5))
            assert all(n == limit for n in _blas_threads())
    for similarities, indices in answers:
        assert similarities.dtype == np.float32
        np.testing.assert_array_equal(indices, expected[1])
        np.testing.assert_allclose(similarities, expected[0], rtol=1e-6)
    np.testing.assert_array_equal(answers[0][0], answers[1][0])
