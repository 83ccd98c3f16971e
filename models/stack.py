"""The main model: a log-odds stack of xgboost, the logistic model and the historical rate.

    P(incident) = sigmoid(a + sum_m w_m * z_m(x)),   w_m >= 0,

where z_m is member m's log-odds (xgboost's raw margin, the logistic model's decision
function, the logit of the district's historical rate). `a` and `w` are fitted on
out-of-fold predictions only: for each of the last `n_stack_periods` training periods c, the
members are fitted on periods <= c - horizon and predict period c; the weights are fitted on
those predictions by penalised maximum likelihood with w >= 0 (so no member enters with its
sign flipped), then the members are refitted on every row. The stack is its own calibrator,
and because it is linear in the members' log-odds, their exact attributions (TreeSHAP,
linear terms) combine into exact attributions of the stack (`models.explain.contributions`).

On real district data the baselines are strong; the stack lets the data decide how much of
each to trust, period by period, without seeing the rows it is scored on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from xgboost import XGBClassifier

from models.probability import PROB_FLOOR, logit, sigmoid, two_columns


def is_xgboost_pipeline(model: object) -> bool:
    """Whether `model` is a scikit-learn Pipeline ending in an XGBClassifier."""
    return isinstance(model, Pipeline) and isinstance(model.steps[-1][1], XGBClassifier)


def reseeded(model: BaseEstimator, seed: int) -> BaseEstimator:
    """`model` (changed in place) with its xgboost step's random_state set to `seed`; any
    other model is returned unchanged."""
    if is_xgboost_pipeline(model):
        model.set_params(**{f"{model.steps[-1][0]}__random_state": seed})
    return model


def member_log_odds(model: BaseEstimator, X: pd.DataFrame) -> np.ndarray:
    """A fitted member's log-odds, unclipped where the model has them: xgboost's raw margin,
    the logistic model's decision function; else the logit of its probability."""
    if is_xgboost_pipeline(model):
        return model.steps[-1][1].predict(model[:-1].transform(X), output_margin=True)
    if isinstance(model, Pipeline) and isinstance(model.steps[-1][1], LogisticRegression):
        return model.decision_function(X)
    return logit(model.predict_proba(X)[:, 1])


def out_of_fold_windows(
    periods: np.ndarray, y: np.ndarray, n_periods: int, horizon: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row masks for each of the last `n_periods` periods c: train on periods
    <= c - horizon (labels known by c), test on period c; windows whose training rows have
    one outcome only are skipped. Shared by the stack and period calibration."""
    windows = []
    for c in np.sort(np.unique(periods))[-n_periods:]:
        train, test = periods <= c - horizon, periods == c
        if len(np.unique(y[train])) == 2:
            windows.append((train, test))
    return windows


def fit_weights(Z: np.ndarray, y: np.ndarray, C: float) -> tuple[float, np.ndarray]:
    """Intercept and non-negative weights maximising the log-likelihood of y under
    sigmoid(a + Z w), with an L2 penalty 1/(2C) * |w|^2."""
    n, m = Z.shape

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] + Z @ theta[1:]
        p = sigmoid(z)
        # log(1 + e^z) - y z, computed stably
        value = np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 / C * theta[1:] @ theta[1:]
        residual = p - y
        grad = np.concatenate([[residual.sum()], Z.T @ residual + theta[1:] / C])
        return float(value), grad

    start = np.concatenate([[0.0], np.full(m, 1.0 / m)])
    bounds = [(None, None)] + [(0.0, None)] * m
    found = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return float(found.x[0]), found.x[1:]


class StackedClassifier(ClassifierMixin, BaseEstimator):
    """Log-odds stack of `members` (name, unfitted classifier) with weights fitted on
    out-of-fold predictions; see the module docstring. `fit` needs `periods`.

    Fitted attributes: `members_` (name -> fitted member), `intercept_`, `weights_` (one per
    member, >= 0), `n_stack_rows_` (out-of-fold rows the weights were fitted on; 0 when no
    earlier period had both outcomes, and then the stack is the first member as is)."""

    def __init__(
        self,
        members: list[tuple[str, BaseEstimator]],
        n_stack_periods: int = 4,
        horizon: int = 1,
        C: float = 1.0,
    ):
        self.members = members
        self.n_stack_periods = n_stack_periods
        self.horizon = horizon
        self.C = C

    def _fit_members(self, X: pd.DataFrame, y: np.ndarray) -> dict[str, BaseEstimator]:
        return {name: clone(model).fit(X, y) for name, model in self.members}

    @staticmethod
    def _log_odds(members: dict[str, BaseEstimator], X: pd.DataFrame) -> np.ndarray:
        return np.column_stack([member_log_odds(m, X) for m in members.values()])

    def fit(self, X: pd.DataFrame, y: np.ndarray, periods: np.ndarray | None = None):
        if periods is None:
            raise ValueError("StackedClassifier.fit needs `periods`")
        y, periods = np.asarray(y).astype(int), np.asarray(periods)
        scores, labels = [], []
        for train, test in out_of_fold_windows(periods, y, self.n_stack_periods, self.horizon):
            fitted = self._fit_members(X[train], y[train])
            scores.append(self._log_odds(fitted, X[test]))
            labels.append(y[test])
        self.n_stack_rows_ = int(sum(len(part) for part in labels))
        names = [name for name, _ in self.members]
        if self.n_stack_rows_ and len(np.unique(np.concatenate(labels))) == 2:
            Z, outcome = np.vstack(scores), np.concatenate(labels).astype(float)
            self.intercept_, self.weights_ = fit_weights(Z, outcome, self.C)
            # each member alone, Platt-calibrated on the same out-of-fold forecasts
            self.member_calibration_ = {
                name: fit_weights(Z[:, [j]], outcome, self.C) for j, name in enumerate(names)
            }
        else:
            self.n_stack_rows_ = 0
            self.intercept_ = 0.0
            self.weights_ = np.eye(len(self.members))[0]
            self.member_calibration_ = {name: (0.0, np.ones(1)) for name in names}
        self.members_ = self._fit_members(X, y)
        self.classes_ = np.array([0, 1])
        return self

    def refit_members(self, X: pd.DataFrame, y: np.ndarray, seed: int) -> StackedClassifier:
        """A copy whose members are refitted on (X, y) (xgboost members with `seed`) and whose
        weights are this stack's: a bootstrap or fold refit without a second weight fit."""
        check_is_fitted(self, "members_")
        copy = clone(self)
        for _name, member in copy.members:
            reseeded(member, seed)
        copy.members_ = copy._fit_members(X, np.asarray(y).astype(int))
        copy.intercept_, copy.weights_ = self.intercept_, self.weights_.copy()
        copy.member_calibration_ = self.member_calibration_
        copy.n_stack_rows_, copy.classes_ = self.n_stack_rows_, self.classes_
        return copy

    def weights(self) -> dict[str, float]:
        """Member name -> weight."""
        check_is_fitted(self, "weights_")
        return {name: float(w) for name, w in zip(self.members_, self.weights_, strict=True)}

    def member_proba(self, name: str, X: pd.DataFrame) -> np.ndarray:
        """P(incident) of member `name` alone, Platt-calibrated on the stack's out-of-fold
        forecasts (what the member would score as a model of its own), shape (n,)."""
        check_is_fitted(self, "member_calibration_")
        intercept, slope = self.member_calibration_[name]
        z = member_log_odds(self.members_[name], X)
        return np.clip(sigmoid(intercept + slope[0] * z), PROB_FLOOR, 1 - PROB_FLOOR)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The stack's log-odds."""
        check_is_fitted(self, "members_")
        return self.intercept_ + self._log_odds(self.members_, X) @ self.weights_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return two_columns(sigmoid(self.decision_function(X)))
