"""
=====================================================
Grid search and fitting on a dask.distributed cluster
=====================================================

Two ways to use a dask cluster with the linear estimators:

- **many small fits**: ``GridSearchCV`` sends its fits to the cluster's
  workers through joblib's ``"dask"`` backend; the search code is unchanged;
- **one fit on data larger than a machine**: ``fit`` takes ``dask.array``
  inputs and has the workers reduce each chunk of rows to small sufficient
  statistics (means and co-moments), merged in a tree; the rows themselves
  never travel.

Here the cluster is a :class:`~distributed.LocalCluster` of two worker
processes on this machine. On a real cluster, only the line that creates the
``Client`` changes (``Client("tcp://scheduler-address:8786")``). dask is an
optional extra: ``pip install -e ".[dask]"`` in a clone. Without it, the example
runs the search on joblib's default backend and skips the dask array part.
"""

# %%
# Data: two noisy views of an 8-dimensional latent
# ------------------------------------------------
import importlib.util
import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV, train_test_split

from skcrossmodal import CrossModalEmbedding, SharedLatentRegression
from skcrossmodal.datasets import make_paired_views

X, y, _ = make_paired_views(
    n_samples=600, n_features_x=60, n_features_y=40, n_latent=8, noise=1.0,
    random_state=0,
)  # fmt: skip
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
param_grid = {"n_components": [2, 4, 8, 16], "alpha": np.logspace(-1, 4, 6)}
HAS_DASK = all(
    importlib.util.find_spec(name) is not None for name in ("dask", "distributed")
)


def tune():
    """The grid search, written once; where it runs is joblib's business."""
    search = GridSearchCV(
        SharedLatentRegression(solver="closed_form"), param_grid, cv=3, n_jobs=-1
    )
    return search.fit(X_train, y_train)


# %%
# Start the cluster, then search
# ------------------------------
# Worker processes re-import the script that started them, so a script (not a
# notebook) must create the cluster under ``if __name__ == "__main__":``.
if __name__ == "__main__":
    if HAS_DASK:
        import dask.array as da
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                dashboard_address=":0",  # a free port: 8787 may be taken
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            print("workers:", len(client.scheduler_info()["workers"]))
            with parallel_config(backend="dask"):
                search = tune()

            # One fit of dask arrays: each chunk of 100 rows becomes one task
            # on a worker; only the statistics come back.
            X_dask = da.from_array(X_train, chunks=(100, -1))
            y_dask = da.from_array(y_train, chunks=(100, -1))
            on_cluster = CrossModalEmbedding(whiten=True, reg=0.1).fit(X_dask, y_dask)
            in_memory = CrossModalEmbedding(whiten=True, reg=0.1).fit(X_train, y_train)
            same = np.allclose(on_cluster.coef_, in_memory.coef_, rtol=1e-10)
            print(f"dask fit over {X_dask.numblocks[0]} chunks equals numpy: {same}")
    else:
        print("dask is not installed: searching with joblib's default backend.")
        search = tune()

    print("best parameters:", search.best_params_)
    print(f"cross-validated MRR: {search.best_score_:.3f}")
    print(f"held-out MRR: {search.score(X_test, y_test):.3f}")

    # Mean reciprocal rank over the grid: the true rank (8) with a moderate
    # penalty wins; higher ranks need a larger ``alpha`` to keep the noise out.
    results = pd.DataFrame(search.cv_results_)
    table = results.pivot_table(
        index="param_n_components", columns="param_alpha", values="mean_test_score"
    )
    fig, ax = plt.subplots(figsize=(6, 3.5))
    image = ax.imshow(table.to_numpy(), cmap="viridis", aspect="auto")
    ax.set_xticks(range(table.shape[1]), [f"{alpha:g}" for alpha in table.columns])
    ax.set_yticks(range(table.shape[0]), table.index)
    ax.set(xlabel="alpha", ylabel="n_components")
    ax.set_title("Cross-validated MRR, fits run on the cluster")
    fig.colorbar(image, ax=ax, label="MRR")
    fig.tight_layout()
    plt.show()
