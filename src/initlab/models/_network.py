"""What MLPClassifier and LogisticRegression share: fit a K = 1 stack through the engine."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import engine
from .._random import check_random_state
from .._resources import check_training
from .._validation import check_dtype, check_number, check_option, check_spec
from ..activations import get_activation
from ..initializers import get_initializer

__all__ = ["DivergedWarning"]


class DivergedWarning(RuntimeWarning):
    """Training stopped being finite; the model keeps its last finite parameters."""


class _NetworkClassifier(ClassifierMixin, BaseEstimator):
    """Fit, predict and the fitted attributes of a feed-forward classifier.

    Subclasses store their keyword arguments in ``__init__`` and say what network they are
    through ``_hidden_sizes`` and ``_activation_spec``.
    """

    def _hidden_sizes(self) -> tuple[int, ...]:
        raise NotImplementedError

    def _activation_spec(self) -> str:
        raise NotImplementedError

    def _check_params(self) -> dict[str, Any]:
        owner = type(self).__name__
        check_option(owner, "solver", self.solver, engine.SOLVERS)
        check_number(owner, "learning_rate", self.learning_rate, low=0, low_open=True)
        check_number(owner, "max_iter", self.max_iter, integer=True, low=1)
        check_number(owner, "batch_size", self.batch_size, integer=True, low=1, allow_none=True)
        check_number(owner, "alpha", self.alpha, low=0)
        check_number(owner, "momentum", self.momentum, low=0, high=1, high_open=True)
        check_number(owner, "beta_1", self.beta_1, low=0, high=1, high_open=True)
        check_number(owner, "beta_2", self.beta_2, low=0, high=1, high_open=True)
        check_number(owner, "epsilon", self.epsilon, low=0, low_open=True)
        check_number(
            owner, "snapshot_every", self.snapshot_every, integer=True, low=1, allow_none=True
        )
        activation = check_spec(owner, "activation", self._activation_spec(), get_activation)
        n_layers = len(self._hidden_sizes()) + 1
        inits = engine._per_layer(self.init, n_layers, "init")
        resolved = [
            check_spec(owner, "init", s, lambda s: engine.resolve_initializer(s, activation))
            for s in inits
        ]
        if not (isinstance(self.bias_init, str) and self.bias_init == "auto"):
            for s in engine._per_layer(self.bias_init, n_layers, "bias_init"):
                check_spec(owner, "bias_init", s, get_initializer)
        return {
            "activation": activation,
            "inits": resolved,
            "dtype": check_dtype(owner, self.dtype),
        }

    def _prepare(
        self, X: Any, y: Any, *, allow_nonfinite: bool = False, training: bool = True
    ) -> dict[str, Any]:
        """Validate, encode the targets and draw the start, as ``fit`` does before training.

        Sets ``classes_`` and ``n_features_in_``; returns the start and what training needs.
        ``allow_nonfinite`` lets NaN or inf through in X (for ``diagnose``, which reports them).
        Refuses, before drawing anything, a network or run that would not fit in memory; with
        ``training=False`` (``diagnose`` of a start: nothing trains) the network and one pass
        only, whatever ``max_iter`` says.
        """
        p = self._check_params()
        X, y = validate_data(self, X, y, dtype=p["dtype"], ensure_all_finite=not allow_nonfinite)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data; got only "
                f"one class: {self.classes_[0]!r}."
            )
        if n_classes == 2:
            Y = y_idx[None, :].astype(p["dtype"])
            output, loss = "sigmoid", "binary_cross_entropy"
        else:
            Y = np.zeros((n_classes, len(y_idx)), dtype=p["dtype"])
            Y[y_idx, np.arange(len(y_idx))] = 1
            output, loss = "softmax", "cross_entropy"
        rng = check_random_state(self.random_state)
        sizes = (X.shape[1], *self._hidden_sizes(), Y.shape[0])
        check_training(
            f"{type(self).__name__}.fit" if training else f"{type(self).__name__}'s start",
            sizes,
            X.shape[0],
            batch_size=self.batch_size,
            max_iter=self.max_iter if training else 1,
            snapshot_every=self.snapshot_every if training else None,
            itemsize=p["dtype"].itemsize,
            solver=self.solver,
        )
        act = p["activation"]
        params = engine.init_params(
            sizes, p["inits"], self.bias_init, activation=act, random_state=rng, dtype=p["dtype"]
        )
        A0 = np.ascontiguousarray(X.T)
        history: dict[str, Any] = {}
        lsuv_inits = [i for i in p["inits"] if i.data_dependent]
        if lsuv_inits:
            batch = A0 if self.batch_size is None else A0[:, : self.batch_size]
            history["lsuv"] = engine.lsuv(
                params,
                batch,
                act,
                tol=lsuv_inits[0].params["tol"],
                max_iter=lsuv_inits[0].params["max_iter"],
            )
        return {
            "params": params,
            "A0": A0,
            "Y": Y,
            "activation": act,
            "output": output,
            "loss": loss,
            "rng": rng,
            "history": history,
            "inits": p["inits"],
        }

    def fit(self, X: Any, y: Any, *, callback: Any = None) -> _NetworkClassifier:
        """Train from the start ``init`` draws, for ``max_iter`` iterations.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Any labels, at least two classes.
        callback : callable(iteration, loss) or None
            Called after every iteration with the loss (an array of one value), for progress.

        Returns
        -------
        self
        """
        start = self._prepare(X, y)
        params, A0, Y, act = start["params"], start["A0"], start["Y"], start["activation"]
        _check_start(self, params, start["inits"])
        output, loss, rng, history = start["output"], start["loss"], start["rng"], start["history"]
        sizes = params.layer_sizes
        result = engine.train(
            params,
            A0,
            Y,
            activation=act,
            output=output,
            loss=loss,
            solver=self.solver,
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            batch_size=self.batch_size,
            shuffle=rng if self._shuffle() else None,
            momentum=self.momentum,
            nesterov=self._nesterov(),
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            alpha=self.alpha,
            snapshot_every=self.snapshot_every,
            callback=callback,
        )
        self.coefs_ = [W[0] for W in result.params.weights]
        self.intercepts_ = [b[0] for b in result.params.biases]
        self.loss_curve_ = result.loss[:, 0].copy()
        self.loss_ = float(self.loss_curve_[-1])
        self.n_iter_ = result.n_iter
        self.t_ = result.n_steps
        self.n_layers_ = len(sizes)
        self.n_outputs_ = Y.shape[0]
        self.out_activation_ = output
        self.loss_function_ = loss
        self.init_used_ = [i.spec for i in start["inits"]]
        if len(set(self.init_used_)) == 1:
            self.init_used_ = self.init_used_[0]
        diverged_at = int(result.diverged_at[0])
        self.diverged_ = diverged_at >= 0
        history.update(
            loss=self.loss_curve_,
            diverged_at=diverged_at if self.diverged_ else None,
            n_steps=result.n_steps,
            snapshots=[_unstack(s) for s in result.snapshots],
        )
        self.history_ = history
        if self.diverged_:
            warnings.warn(
                f"{type(self).__name__} diverged at iteration {diverged_at}: the loss or a "
                "gradient stopped being finite (try a smaller learning_rate or init scale). "
                + (
                    "The start itself overflows: the model keeps it, and predict_proba refuses "
                    "the samples on which its signal is not finite."
                    if diverged_at == 0
                    else f"The model keeps the parameters it had at iteration {diverged_at - 1}, "
                    "the last whose loss and gradient were finite."
                ),
                DivergedWarning,
                stacklevel=2,
            )
        return self

    def _shuffle(self) -> bool:
        return bool(getattr(self, "shuffle", True))

    def _nesterov(self) -> bool:
        return bool(getattr(self, "nesterov", False))

    def _params(self) -> engine.Params:
        return engine.Params.from_layers(self.coefs_, self.intercepts_)

    def _logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=self.coefs_[0].dtype)
        return engine.logits(self._params(), X, self._activation_spec())[0]  # (c, m)

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits: shape (n_samples,) for two classes (positive class where > 0), else
        (n_samples, n_classes)."""
        z = self._logits(X)
        return z[0] if z.shape[0] == 1 else z.T

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes).

        Raises
        ------
        ValueError
            Where the network's signal overflows on some samples of X (it can, far outside the
            training data, for a model whose weights grew huge): never NaN probabilities.
        """
        from ..losses import output_activation

        with np.errstate(over="ignore", invalid="ignore"):
            z = self._logits(X)
            out = output_activation(z, self.out_activation_)
        bad = ~np.isfinite(out).all(axis=0)
        if bad.any():
            raise ValueError(
                f"The 'X' parameter of {type(self).__name__}.predict_proba has {int(bad.sum())} "
                f"of {bad.size} samples on which the network's signal overflows (its weights "
                f"are too large{', it diverged' if getattr(self, 'diverged_', False) else ''}): "
                "no finite probability exists for them."
            )
        if out.shape[0] == 1:
            return np.column_stack([1.0 - out[0], out[0]])
        return out.T

    def predict(self, X: Any) -> np.ndarray:
        """The class with the largest probability; for two classes the second class where
        p > 0.5 strictly (so p = 0.5 exactly, as from an all-zero start, gives the first)."""
        proba = self.predict_proba(X)
        if proba.shape[1] == 2:
            return self.classes_[(proba[:, 1] > 0.5).astype(int)]
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def _inits_text(inits: list[Any]) -> str:
    specs = list(dict.fromkeys(i.spec for i in inits))
    return "init=" + ", ".join(repr(s) for s in specs)


def _check_start(model: Any, params: engine.Params, inits: list[Any]) -> None:
    """Refuse a start that holds NaN or inf: no model can be trained, or kept, from it."""
    owner = type(model).__name__
    for l, (W, b) in enumerate(zip(params.weights, params.biases), start=1):
        for name, a in ((f"W{l}", W), (f"b{l}", b)):
            bad = int(np.count_nonzero(~np.isfinite(a)))
            if not bad:
                continue
            by_bias = name.startswith("b") and not (
                isinstance(model.bias_init, str) and model.bias_init == "auto"
            )
            param, drawn = (
                ("bias_init", f"bias_init={model.bias_init!r}")
                if by_bias
                else ("init", _inits_text(inits))
            )
            raise ValueError(
                f"The {param!r} parameter of {owner} is invalid: the start it drew ({drawn}) "
                f"holds {bad} non-finite values in {name}, so there is nothing to train. Use a "
                "smaller scale."
            )


def _unstack(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A K = 1 engine snapshot with per-layer arrays of shape (out, in) and (out,)."""
    return {k: v if k == "iteration" else [a[0] for a in v] for k, v in snapshot.items()}
