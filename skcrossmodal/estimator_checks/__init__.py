"""Checks that a two-view or K-view estimator honours the library's contract.

scikit-learn's ``check_estimator`` tests what every estimator must do; these
checks test what every *two-view* estimator of this library must do on top:
the shape and pairing rules of ``transform(X, y)``, ``predict``, ``score`` and
``retrieve``, clear errors for bad paired input, ``sample_weight`` routing,
pandas output and persistence. Run them on a new estimator with
:func:`check_two_view_estimator`, or parametrize tests with
:func:`all_two_view_checks`.

The *K-view* estimators (one ``X``, its columns split into views by a
``views`` parameter) have checks of their own, run by
:func:`check_multiview_estimator` and listed by :func:`all_multiview_checks`:
the layout of ``transform`` against ``transform_view`` (NaN exactly where a
row lacks a view), ``score`` as the mean over view pairs of the two-way mean
reciprocal rank, ``retrieve`` as a brute-force cosine search, named errors
for bad input with the estimator left as it was, views by column name,
pandas output, ``sample_weight`` routing, persistence, ``GridSearchCV`` and
``partial_fit``. Two promises hold only for estimators that learn from
weighted sufficient statistics, and are asserted only when the estimator's
class declares them (a stochastic trainer cannot, and gets the rest):

- ``_weights_are_repetitions = True``: an integer ``sample_weight`` equals
  repeating the row;
- ``_partial_fit_equals_fit = True``: ``partial_fit`` on chunks equals
  ``fit`` on all their rows.

A meta-estimator whose promise depends on its inner estimator makes the
attribute a property.

Where an estimator compares with itself (fitted two equivalent ways) the
tolerance is relative, ``1e-5`` (float32's precision, for neural
estimators), or ``1e-7`` under the two promises above.
"""

# The single checks stay importable from here, as before the split (and as
# scikit-learn's are from sklearn.utils.estimator_checks).
from ._multiview import (
    all_multiview_checks,
    check_multiview_bad_input,
    check_multiview_estimator,
    check_multiview_partial_fit,
    check_multiview_persistence_and_clone,
    check_multiview_pipeline_grid_search,
    check_multiview_retrieve_matches_transform_view,
    check_multiview_sample_weight,
    check_multiview_score_is_mean_pairwise_mrr,
    check_multiview_transform_layout,
    check_multiview_views_by_name_and_pandas_output,
)
from ._two_view import (
    all_two_view_checks,
    check_bad_paired_input,
    check_joblib_round_trip,
    check_pandas_output,
    check_pipeline_grid_search,
    check_predict_in_y_units,
    check_retrieve_matches_transform,
    check_sample_weight_routed,
    check_score_is_two_way_mrr,
    check_transform_shapes,
    check_two_view_estimator,
)

__all__ = [
    "all_multiview_checks",
    "all_two_view_checks",
    "check_multiview_estimator",
    "check_two_view_estimator",
]
