"""The data sets the chapters use: real ones that ship inside scikit-learn, and small seeded synthetic ones.

Every generator takes a ``seed`` and returns the same arrays for the same arguments on every machine.
scikit-learn is imported only by :func:`load_diabetes`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Dataset",
    "load_diabetes",
    "linear_with_outliers",
    "heteroscedastic",
    "poisson_counts",
    "train_val_split",
    "polynomial_features",
    "Split",
    "load_classification",
]


@dataclass
class Dataset:
    """Features ``X`` (n, d), targets ``y`` (n,), and what they mean."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list
    target_name: str
    description: str


def load_diabetes(standardize: bool = True) -> Dataset:
    """scikit-learn's diabetes data (Efron et al., 2004): 442 patients, 10 baseline features, and a
    measure of disease progression one year later (the target, roughly 25 to 346).

    With ``standardize=True`` each feature has mean 0 and standard deviation 1 (the raw scikit-learn
    features are already centred and scaled to unit Euclidean norm per column, which makes them tiny).
    """
    try:
        from sklearn.datasets import load_diabetes as _load
    except ImportError:
        raise ImportError("load_diabetes needs scikit-learn: pip install 'lossbook[data]'") from None
    raw = _load()
    X = np.asarray(raw.data, dtype=np.float64)
    if standardize:
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    return Dataset(
        X=X,
        y=np.asarray(raw.target, dtype=np.float64),
        feature_names=list(raw.feature_names),
        target_name="disease progression after one year",
        description="Diabetes data of Efron, Hastie, Johnstone and Tibshirani (2004), as shipped with scikit-learn.",
    )


def linear_with_outliers(
    n: int = 100,
    slope: float = 2.0,
    intercept: float = 1.0,
    noise: float = 0.5,
    outlier_fraction: float = 0.0,
    outlier_shift: tuple = (8.0, 15.0),
    seed: int = 0,
):
    """A straight line with Gaussian noise, a fraction of whose targets are pushed upwards.

    ``x`` is uniform on [0, 5]. A random ``outlier_fraction`` of the points get ``y`` raised by a
    uniform amount in ``outlier_shift``: one-sided outliers, which bias a least-squares fit.
    Returns ``(x, y, is_outlier)``.
    """
    if not 0 <= outlier_fraction <= 1:
        raise ValueError(f"`outlier_fraction` must lie in [0, 1], but it is {outlier_fraction!r}.")
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 5.0, n))
    y = intercept + slope * x + noise * rng.standard_normal(n)
    n_out = int(round(outlier_fraction * n))
    is_outlier = np.zeros(n, dtype=bool)
    is_outlier[rng.choice(n, size=n_out, replace=False)] = True
    y[is_outlier] += rng.uniform(*outlier_shift, size=n_out)
    return x, y, is_outlier


def heteroscedastic(n: int = 300, seed: int = 0):
    """Noise whose size grows with ``x``: y = 0.5 x + sin(x) + (0.2 + 0.15 x) * eps, x uniform on [0, 10].

    Returns ``(x, y, mean, std)``, where ``mean`` and ``std`` are the true conditional mean and standard
    deviation at each ``x`` (for checking what a model learned).
    """
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 10.0, n))
    mean = 0.5 * x + np.sin(x)
    std = 0.2 + 0.15 * x
    y = mean + std * rng.standard_normal(n)
    return x, y, mean, std


def poisson_counts(n: int = 300, seed: int = 0):
    """Counts whose log-rate is linear in ``x``: y ~ Poisson(exp(0.5 + 1.0 x)), x uniform on [0, 2].

    Returns ``(x, y, rate)`` with the true rate at each ``x``.
    """
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 2.0, n))
    rate = np.exp(0.5 + 1.0 * x)
    y = rng.poisson(rate).astype(np.float64)
    return x, y, rate


def train_val_split(X, y, val_fraction: float = 0.25, seed: int = 0):
    """Shuffle and split into ``(X_train, X_val, y_train, y_val)``."""
    X = np.asarray(X)
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}; they must match.")
    if not 0 < val_fraction < 1:
        raise ValueError(f"`val_fraction` must lie strictly between 0 and 1, but it is {val_fraction!r}.")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(X))
    n_val = int(round(val_fraction * len(X)))
    val, train = idx[:n_val], idx[n_val:]
    return X[train], X[val], y[train], y[val]


def polynomial_features(x, degree: int) -> np.ndarray:
    """Columns x, x^2, ..., x^degree of a 1-d array (no constant column), shape (n, degree)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"`x` must be 1-d, but it has shape {x.shape}.")
    if int(degree) != degree or degree < 1:
        raise ValueError(f"`degree` must be a positive integer, but it is {degree!r}.")
    return np.stack([x**k for k in range(1, int(degree) + 1)], axis=1)


@dataclass
class Split:
    """A classification data set split three ways, standardised with the training statistics.

    ``X_*`` are float64 arrays (n, d); ``y_*`` are int64 class indices (n,); ``class_names`` has C entries.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    description: str

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


_CLASSIFICATION = {
    "digits": ("load_digits", "8x8 images of handwritten digits (UCI; 1,797 images, 64 pixels, 10 classes)"),
    "breast_cancer": ("load_breast_cancer", "Wisconsin diagnostic breast cancer (569 tumours, 30 features, 2 classes)"),
    "wine": ("load_wine", "chemical analysis of wines from three cultivars (178 wines, 13 features)"),
    "iris": ("load_iris", "Fisher's iris flowers (150 flowers, 4 features, 3 species)"),
}


def _bundled_classification(name: str):
    """``(X, y, class_names)`` of one of scikit-learn's bundled classification data sets.

    The four files ship inside scikit-learn's ``datasets/data`` folder; reading them with NumPy gives the arrays
    that scikit-learn's loaders return (a test checks this) without importing scikit-learn, which takes about
    1.5 s. Where the files are not found, scikit-learn's own loader is used.
    """
    import importlib.util
    import os

    spec = importlib.util.find_spec("sklearn")           # finds the package without importing it
    if spec is None or spec.origin is None:
        raise ImportError("load_classification needs scikit-learn: pip install 'lossbook[data]'")
    path = os.path.join(os.path.dirname(spec.origin), "datasets", "data", _BUNDLED_FILE[name])
    if os.path.exists(path):
        if name == "digits":                              # 65 columns: 64 pixels, then the digit
            table = np.loadtxt(path, delimiter=",")
            if table.ndim == 2 and table.shape[1] == 65:
                return table[:, :-1], table[:, -1].astype(np.int64), [str(c) for c in range(10)]
        else:
            with open(path) as f:                             # header: n_samples, n_features, class names...
                header = f.readline().strip().split(",")
                table = np.loadtxt(f, delimiter=",")
            n, d = int(header[0]), int(header[1])
            if table.shape == (n, d + 1):
                return table[:, :-1], table[:, -1].astype(np.int64), header[2:]
    # A scikit-learn whose files are laid out differently: use its own loader.
    import sklearn.datasets as skd

    raw = getattr(skd, _CLASSIFICATION[name][0])()
    y = np.asarray(raw.target, dtype=np.int64)
    return (np.asarray(raw.data, dtype=np.float64), y,
            [str(n) for n in getattr(raw, "target_names", np.unique(y))])


_BUNDLED_FILE = {"digits": "digits.csv.gz", "breast_cancer": "breast_cancer.csv", "wine": "wine_data.csv",
                 "iris": "iris.csv"}


def load_classification(name: str, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """One of scikit-learn's bundled classification data sets (no download), shuffled, stratified and split.

    ``name`` is ``"digits"``, ``"breast_cancer"``, ``"wine"`` or ``"iris"``. Each class is split in the same
    proportions (stratified), then every feature is standardised with the mean and standard deviation of the
    training part only (constant features are left at 0), so no information leaks from validation or test data.
    """
    if name not in _CLASSIFICATION:
        raise ValueError(f"`name` must be one of {sorted(_CLASSIFICATION)}, but it is {name!r}.")
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"`val_fraction` and `test_fraction` must be in (0, 1) and sum to less than 1, "
                         f"but they are {val_fraction!r} and {test_fraction!r}.")
    X, y, names = _bundled_classification(name)
    description = _CLASSIFICATION[name][1]
    rng = np.random.default_rng(seed)
    parts = {"train": [], "val": [], "test": []}
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_val = int(round(val_fraction * len(idx)))
        n_test = int(round(test_fraction * len(idx)))
        parts["val"].append(idx[:n_val])
        parts["test"].append(idx[n_val:n_val + n_test])
        parts["train"].append(idx[n_val + n_test:])
    idx = {k: rng.permutation(np.concatenate(v)) for k, v in parts.items()}
    mean = X[idx["train"]].mean(axis=0)
    std = X[idx["train"]].std(axis=0)
    std[std == 0] = 1.0
    Xs = (X - mean) / std
    return Split(
        X_train=Xs[idx["train"]], y_train=y[idx["train"]],
        X_val=Xs[idx["val"]], y_val=y[idx["val"]],
        X_test=Xs[idx["test"]], y_test=y[idx["test"]],
        class_names=names,
        description=f"{description}, as shipped with scikit-learn.",
    )
