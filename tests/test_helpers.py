"""Unit tests for the shared helpers: stable math, reductions, validation, data, plotting, device, book."""
import numpy as np
import pytest

import lossbook
from lossbook import _stable
from lossbook._reduction import reduce, reduction_scale
from lossbook._validation import as_float_array, as_index_array, check_same_shape, describe
from lossbook.book import data


def test_stable_functions_are_finite_and_right_for_huge_inputs():
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
    np.testing.assert_allclose(
        _stable.softplus(x), [0.0, np.log1p(np.exp(-50.0)), np.log(2), 50.0 + np.log1p(np.exp(-50.0)), 1e4]
    )
    np.testing.assert_allclose(_stable.log_sigmoid(x), -_stable.softplus(-x))
    np.testing.assert_allclose(
        _stable.sigmoid(x), [0.0, np.exp(-50) / (1 + np.exp(-50)), 0.5, 1 / (1 + np.exp(-50)), 1.0]
    )
    z = np.array([[1e4, 0.0, -1e4], [1.0, 2.0, 3.0]])
    np.testing.assert_allclose(_stable.logsumexp(z, axis=1), [1e4, np.log(np.exp(1) + np.exp(2) + np.exp(3))])
    np.testing.assert_allclose(np.exp(_stable.log_softmax(z, axis=1)).sum(axis=1), [1.0, 1.0])
    np.testing.assert_allclose(_stable.log_cosh(np.array([1e6, 0.5])), [1e6 - np.log(2), np.log(np.cosh(0.5))])
    assert _stable.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf


def test_xlogy_is_zero_where_x_is_zero():
    np.testing.assert_array_equal(_stable.xlogy(np.array([0.0, 2.0]), np.array([0.0, np.e])), [0.0, 2.0])


def test_reduce_and_scale():
    loss = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    assert reduce(loss, "sum").dtype == np.float32 and reduce(loss, "sum") == 6
    assert reduce(loss, "mean") == 2 and reduce(loss, "mean").shape == ()
    assert reduce(loss, "none") is loss
    assert np.isnan(reduce(np.zeros(0), "mean"))
    assert reduction_scale("mean", 4) == 0.25 and reduction_scale("sum", 4) == 1.0
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        reduce(loss, "avg")


def test_validation_messages_name_argument_and_fix():
    assert as_float_array([1, 2], "input").dtype == np.float64
    assert as_float_array(np.zeros(2, np.float32), "input").dtype == np.float32
    with pytest.raises(TypeError, match="`input` must hold real numbers"):
        as_float_array(np.array(["a"]), "input")
    with pytest.raises(TypeError, match=r"`target` must hold integer class indices.*argmax\(axis=1\)"):
        as_index_array(np.eye(3), "target")
    with pytest.raises(IndexError, match=r"indices must lie in \[0, 2\]"):
        as_index_array(np.array([0, 3]), "target", num_classes=3)
    assert as_index_array(np.array([0, -100]), "target", num_classes=3, ignore_index=-100).dtype == np.int64
    with pytest.raises(ValueError, match=r"\(4, 1\).*reshape"):
        check_same_shape(np.zeros(4), np.zeros((4, 1)))
    assert "2 NaN" in describe(np.array([np.nan, 1.0, np.nan]))


def test_data_sets_are_seeded_and_shaped():
    d = data.load_diabetes()
    assert d.X.shape == (442, 10) and d.y.shape == (442,)
    np.testing.assert_allclose(d.X.mean(axis=0), 0, atol=1e-12)
    x1, y1, o1 = data.linear_with_outliers(50, outlier_fraction=0.2, seed=3)
    x2, y2, o2 = data.linear_with_outliers(50, outlier_fraction=0.2, seed=3)
    np.testing.assert_array_equal(y1, y2)
    assert o1.sum() == 10
    with pytest.raises(ValueError, match="outlier_fraction"):
        data.linear_with_outliers(outlier_fraction=1.5)
    x, y, mean, std = data.heteroscedastic(100)
    assert np.all(np.diff(std) >= 0)
    x, y, rate = data.poisson_counts(100)
    assert np.all(y >= 0) and np.all(y == np.round(y))
    Xtr, Xva, ytr, yva = data.train_val_split(np.arange(20)[:, None], np.arange(20), 0.25)
    assert len(Xva) == 5 and sorted(np.concatenate([ytr, yva]).tolist()) == list(range(20))
    assert data.polynomial_features(np.array([2.0]), 3).tolist() == [[2.0, 4.0, 8.0]]


def test_plotting_style_and_helpers():
    import matplotlib

    matplotlib.use("Agg")
    from lossbook.book import plotting

    r = np.linspace(-2, 2, 5)
    fig, (a, b) = plotting.plot_loss_and_gradient({"MSE": (r**2, 2 * r)}, r, title="t")
    assert a.get_xlabel() and a.get_ylabel() and b.get_ylabel()
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0] == plotting.PALETTE["blue"]
    fig2, ax = plotting.plot_curves({"train": [3, 2, 1], "val": [3, 2.5, 2]}, logy=True)
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 2
    import matplotlib.pyplot as plt

    plt.close("all")


def test_device_is_cpu_without_cuda():
    import torch

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert lossbook.book.gpu.device().type == expected
    assert lossbook.book.gpu.has_cuda() == torch.cuda.is_available()


def test_book_setup_seeds_and_glue_falls_back():
    rng1 = lossbook.book.setup(7)
    rng2 = lossbook.book.setup(7)
    assert rng1.random() == rng2.random()
    from IPython.core.interactiveshell import InteractiveShell  # noqa: F401  (IPython is installed)

    assert lossbook.book.glue("x", 3) is None  # like myst_nb.glue: nothing extra shown at the end of a cell


def test_load_classification_is_stratified_standardised_and_seeded():
    from lossbook.book.data import load_classification

    s = load_classification("breast_cancer", seed=1)
    n = len(s.y_train) + len(s.y_val) + len(s.y_test)
    assert n == 569 and s.n_classes == 2
    assert np.allclose(s.X_train.mean(axis=0), 0, atol=1e-12)
    # stratified: the class proportions of the three parts agree to within one sample per class
    props = [np.bincount(part, minlength=2) / len(part) for part in (s.y_train, s.y_val, s.y_test)]
    assert np.abs(props[0] - props[1]).max() < 0.02 and np.abs(props[0] - props[2]).max() < 0.02
    again = load_classification("breast_cancer", seed=1)
    assert np.array_equal(s.X_test, again.X_test) and s.y_train.dtype == np.int64
    with pytest.raises(ValueError, match="name"):
        load_classification("mnist")


@pytest.mark.parametrize("name, loader", [("digits", "load_digits"), ("breast_cancer", "load_breast_cancer"),
                                          ("wine", "load_wine"), ("iris", "load_iris")])
def test_bundled_files_give_scikit_learns_arrays(name, loader):
    """lossbook reads the CSV files that ship in scikit-learn; they must be exactly what its loaders return."""
    import sklearn.datasets

    X, y, names = data._bundled_classification(name)
    raw = getattr(sklearn.datasets, loader)()
    assert X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(X, raw.data)
    np.testing.assert_array_equal(y, raw.target)
    assert names == [str(n) for n in raw.target_names]


def test_scikit_learns_loader_is_the_fallback_when_its_files_move(monkeypatch):
    expected = data._bundled_classification("iris")
    monkeypatch.setitem(data._BUNDLED_FILE, "iris", "no-such-file.csv")
    X, y, names = data._bundled_classification("iris")
    np.testing.assert_array_equal(X, expected[0])
    np.testing.assert_array_equal(y, expected[1])
    assert names == expected[2]


def test_load_classification_does_not_import_scikit_learn():
    import subprocess
    import sys

    code = ("import sys, lossbook.book.data as d; s = d.load_classification('wine'); "
            "print(len(s.y_train) + len(s.y_val) + len(s.y_test), 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["178", "False"]


def test_setup_uses_one_thread_and_asks_for_determinism_only_where_cuda_is():
    torch = pytest.importorskip("torch")
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        torch.use_deterministic_algorithms(False)
        lossbook.book.setup(0)
        assert torch.get_num_threads() == 1
        assert torch.are_deterministic_algorithms_enabled() == torch.cuda.is_available()
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def test_train_reduces_the_loss_and_is_deterministic():
    torch = pytest.importorskip("torch")
    from lossbook.book.data import load_classification
    from lossbook.book.training import predict, train

    s = load_classification("iris")

    def run():
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 3)
        hist = train(model, torch.nn.CrossEntropyLoss(), s.X_train, s.y_train, epochs=30, lr=0.1,
                     batch_size=16, X_val=s.X_val, y_val=s.y_val)
        return hist, predict(model, s.X_test)

    h1, p1 = run()
    h2, p2 = run()
    assert h1.train_loss[-1] < 0.5 * h1.train_loss[0]
    assert len(h1.val_loss) == 30 and h1.train_loss == h2.train_loss and np.array_equal(p1, p2)
    assert (p1.argmax(axis=1) == s.y_test).mean() > 0.8
