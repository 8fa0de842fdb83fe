"""Hyperparameter search: scikit-learn's `GridSearchCV` and `RandomizedSearchCV`, with the
candidate x fold fits of jaxann's estimators trained side by side.

    from jaxann import MLPClassifier
    from jaxann.model_selection import GridSearchCV
    search = GridSearchCV(MLPClassifier(solver="sgd"), {"alpha": [1e-4, 1e-3], "learning_rate_init": [0.1, 0.01]},
                          cv=5).fit(X, y)
    search.best_params_, search.best_score_, search.cv_results_

They are scikit-learn's own classes, so every parameter, attribute and behaviour is
theirs (`scoring`, `refit`, `cv` with any splitter and `groups`, fit parameters such as
`sample_weight`, `error_score`, `return_train_score`, `cv_results_`, `best_estimator_`),
with one change: before scikit-learn's loop fits and scores each candidate on each fold,
the fits it is about to make are made together. Each candidate x fold estimator is built
and given its fold's rows as scikit-learn's loop builds and gives them (a `Pipeline`'s
earlier steps fitted on the fold, as there), jaxann's estimators among them record their
fit, those fits train as one program per shape (`jaxann.estimators.batch`: each model its
own fold's rows, random stream, stopping rule; folds a few rows apart share one), and
scikit-learn's loop then finds each fit done and scores it. So `cv_results_` equals
scikit-learn's `GridSearchCV` over the same estimator fitting one candidate at a time, to
float rounding. What cannot be batched (solver='lbfgs', another library's estimator as a
candidate) is fitted by scikit-learn's loop one at a time, as usual. With n_jobs other
than 1 the loop runs in threads (its fits are already done), so `n_jobs` costs no new
processes.
"""

from __future__ import annotations

import contextlib
import inspect

from joblib import parallel_config
from sklearn import model_selection as _sk
from sklearn.base import clone, is_classifier
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.validation import _check_method_params, indexable

from jaxann.estimators.batch import Ahead, batchable

__all__ = ["GridSearchCV", "RandomizedSearchCV"]


def _final_step(estimator):
    """The estimator that a fit finally trains: the last step of (nested) pipelines."""
    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator


class _FitsAhead:
    """What jaxann adds to a scikit-learn search class: the fits of each round of
    candidates made together before scikit-learn's loop asks for them."""

    def fit(self, X, y=None, **params):
        self._inputs = (X, y, params)
        try:
            backend = {} if self.n_jobs in (None, 1) else {"backend": "threading"}
            with parallel_config(**backend):
                return super().fit(X, y, **params)
        finally:
            del self._inputs

    def _run_search(self, evaluate_candidates, *, callback_ctx=None):
        def evaluate(candidate_params, cv=None, more_results=None, **kwargs):
            candidate_params = list(candidate_params)
            with self._fitted_ahead(candidate_params, cv):
                return evaluate_candidates(candidate_params, cv, more_results, **kwargs)

        search = super()._run_search
        if "callback_ctx" in inspect.signature(search).parameters:
            return search(evaluate, callback_ctx=callback_ctx)
        return search(evaluate)

    @contextlib.contextmanager
    def _fitted_ahead(self, candidate_params, cv):
        """Build every candidate x fold fit as scikit-learn's loop (`_fit_and_score`)
        will, record those jaxann can batch, train them, and serve them to the loop."""
        X, y, params = self._inputs
        X, y = indexable(X, y)
        routed = self._get_routed_params_for_fit(_check_method_params(X, params=params))
        cv = cv or check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, **routed.splitter.split))
        base = clone(self.estimator)
        folds = []  # each fold's rows once: the fits of one fold share them
        ahead = Ahead()
        with ahead.collecting():
            for parameters in candidate_params:
                estimator = clone(base).set_params(**clone(parameters, safe=False))
                if not batchable(_final_step(estimator)):
                    continue
                for i, (train, _) in enumerate(splits):
                    if len(folds) <= i:
                        folds.append((*_safe_split(estimator, X, y, train),
                                       _check_method_params(X, params=routed.estimator.fit, indices=train)))
                    X_train, y_train, fit_params = folds[i]
                    with contextlib.suppress(Exception):  # a fit that fails here fails again in the loop
                        clone(estimator).fit(X_train, y_train, **fit_params)
        ahead.train()
        with ahead.serving():
            yield


class GridSearchCV(_FitsAhead, _sk.GridSearchCV):
    __doc__ = ("scikit-learn's GridSearchCV, whose candidate x fold fits of jaxann's estimators train "
               "side by side (`jaxann.model_selection`).\n\n" + (_sk.GridSearchCV.__doc__ or ""))


class RandomizedSearchCV(_FitsAhead, _sk.RandomizedSearchCV):
    __doc__ = ("scikit-learn's RandomizedSearchCV, whose candidate x fold fits of jaxann's estimators train "
               "side by side (`jaxann.model_selection`).\n\n" + (_sk.RandomizedSearchCV.__doc__ or ""))
