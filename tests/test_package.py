"""Package-level contract: names and signatures match torch.nn.functional, metadata is complete,
every loss has an analytic gradient, and `import lossbook` stays light."""
import inspect
import subprocess
import sys

import numpy as np
import pytest

import lossbook

TORCH_LOSSES = [
    "l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div", "poisson_nll_loss",
    "gaussian_nll_loss", "hinge_embedding_loss", "margin_ranking_loss", "soft_margin_loss",
    "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss",
    "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
    "ctc_loss",
]
BEYOND_TORCH = [
    "sigmoid_focal_loss",
    "log_cosh_loss",
    "quantile_loss",
    "contrastive_loss",
    "info_nce_loss",
    "dice_loss",
    "ranknet_loss",
    "lambdarank_loss",
    "listnet_loss",
    "listmle_loss",
    "token_cross_entropy",
]
# Part VI (lossbook.preferences): per-sequence or per-token log-probabilities, no torch counterpart; their tests
# against TRL-style autograd references are in tests/test_preferences.py.
PREFERENCES = [
    "bradley_terry_loss", "dpo_loss", "simpo_loss", "orpo_loss", "kto_loss", "ppo_clip_loss", "kl_penalty",
]
# Part VII's losses (tests/test_generative.py checks them against PyTorch, mixed float dtypes included).
GENERATIVE = ["gaussian_kl", "vae_loss", "gan_discriminator_loss", "gan_generator_loss", "diffusion_loss",
              "flow_matching_loss"]
# Beyond torch.nn.functional's list, with a signature of its own (torch 2.13's version takes `options`).
FUSED = ["linear_cross_entropy"]
# Part VIII (lossbook.vision; dice_loss, listed above, moved there too): tested in test_vision.py, against torch
# references of torchvision's, the Lovász authors' and pytorch-metric-learning's formulas.
VISION = ["box_iou_loss", "tversky_loss", "focal_tversky_loss", "jaccard_loss", "lovasz_hinge_loss",
          "lovasz_softmax_loss", "cosface_loss", "arcface_loss"]
DEPRECATED = {"size_average", "reduce"}


def _params(fn):
    return [(p.name, p.default, p.kind) for p in inspect.signature(fn).parameters.values() if p.name not in DEPRECATED]


@pytest.mark.parametrize("name", TORCH_LOSSES)
def test_same_name_parameters_order_and_defaults_as_torch(name):
    import torch.nn.functional as F

    assert hasattr(lossbook, name), f"lossbook.{name} is missing"
    assert _params(getattr(lossbook, name)) == _params(getattr(F, name))


@pytest.mark.parametrize("name", TORCH_LOSSES + BEYOND_TORCH + FUSED + PREFERENCES + GENERATIVE + VISION)
def test_every_loss_is_registered_with_gradient_and_docs(name):
    fn = getattr(lossbook, name)
    assert callable(fn.grad), f"{name}.grad is missing"
    info = fn.info
    assert info.name == name and info.family in lossbook.FAMILIES
    for field in ("prediction", "target_dtype", "target_shape", "target_values", "reference", "summary"):
        assert getattr(info, field), f"{name}.info.{field} is empty"
    doc = fn.__doc__ or ""
    assert "math::" in doc or "$" in doc, f"{name}'s docstring states no formula"
    assert "eference" in doc, f"{name}'s docstring gives no reference"
    if name in TORCH_LOSSES:
        assert info.torch_function == f"torch.nn.functional.{name}"
        assert info.torch_module and info.torch_module.startswith("torch.nn.")


def test_catalogue_lists_every_loss_once_sorted_by_family():
    names = [i.name for i in lossbook.catalogue()]
    assert sorted(names) == sorted(set(TORCH_LOSSES + BEYOND_TORCH + FUSED + PREFERENCES + GENERATIVE + VISION))
    families = [lossbook.FAMILIES.index(i.family) for i in lossbook.catalogue()]
    assert families == sorted(families)
    assert all(i.family == "ranking" for i in lossbook.catalogue("ranking"))
    with pytest.raises(ValueError, match="`family` must be one of"):
        lossbook.catalogue("astrology")


def test_import_is_light():
    # CPU time of the importing process (not wall time, which a busy shared machine inflates many times over),
    # best of three, relative to `import numpy` alone: lossbook itself must add little to NumPy.
    def cpu_seconds(module):
        code = (
            f"import sys, time; t = time.process_time(); import {module}; dt = time.process_time() - t; "
            "print(dt); assert 'torch' not in sys.modules, 'torch imported'; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'; "
            "assert 'sklearn' not in sys.modules, 'scikit-learn imported'; "
            "assert not any(m.startswith(('lossbook.book', 'lossbook.exercises')) for m in sys.modules), "
            "'the book helpers were imported'"
        )
        times = []
        for _ in range(3):
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
            times.append(float(out.stdout))
        return min(times)

    numpy_s, lossbook_s = cpu_seconds("numpy"), cpu_seconds("lossbook")
    # A quiet machine measures about 1.6x numpy's own import; importing torch or scipy would cost 5-20x.
    assert lossbook_s < 3 * numpy_s, f"import lossbook took {lossbook_s * 1000:.0f} ms of CPU, numpy alone {numpy_s * 1000:.0f} ms"


def test_torch_tensors_are_refused_with_a_hint():
    import torch

    with pytest.raises(TypeError, match=r"\.detach\(\)\.cpu\(\)\.numpy\(\)"):
        lossbook.mse_loss(torch.zeros(3), np.zeros(3))


def test_get_loss_and_unknown_name():
    assert lossbook.get_loss("mse_loss") is lossbook.mse_loss
    with pytest.raises(KeyError, match="no loss named"):
        lossbook.get_loss("mse")


# ---------------------------------------------------------------------------------------------------------
# dtypes: every loss refuses integer or boolean predictions, and mixes float32 / float64 as type promotion
# ---------------------------------------------------------------------------------------------------------
def _mixed_cases():
    """name -> (args, kwargs, indices of the prediction arguments, torch reference or None for F.<name>).

    The first prediction is float32; a target, a weight or another prediction is float64.
    """
    import torch
    from test_classification_binary import torch_focal
    from test_ranking import _torch_contrastive, _torch_info_nce
    from test_regression import torch_quantile
    from test_vision import torch_dice

    rng = np.random.default_rng(7)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    f64 = lambda *s: rng.standard_normal(s)  # noqa: E731
    prob32 = rng.uniform(0.05, 0.95, (4, 3)).astype(np.float32)
    y01 = rng.uniform(0, 1, (4, 3))
    idx = np.array([0, 2, 1, 2])
    pm1 = np.array([1.0, -1.0, 1.0, -1.0])
    pm1_grid = np.where(rng.uniform(size=(4, 3)) < 0.5, -1.0, 1.0)
    logp32 = np.log(rng.dirichlet(np.ones(3), 4)).astype(np.float32)
    probs64 = rng.dirichlet(np.ones(3), 4)
    w64 = rng.uniform(0.5, 2, 3)

    def log_cosh(input, target, reduction="mean"):
        r = input - target
        loss = torch.log1p(2 * torch.sinh(r / 2) ** 2)
        return loss.mean() if reduction == "mean" else loss

    return {
        "mse_loss": ([f32(4, 3), f64(4, 3)], {}, (0,), None),
        "mse_loss/weight": ([f32(4, 3), f32(4, 3)], {"weight": rng.uniform(0.5, 2, (4, 3))}, (0,), None),
        "l1_loss": ([f32(4, 3), f64(4, 3)], {}, (0,), None),
        "huber_loss": ([f32(4, 3), 2 * f64(4, 3)], {"delta": 0.5}, (0,), None),
        "smooth_l1_loss": ([f32(4, 3), 2 * f64(4, 3)], {"beta": 0.5}, (0,), None),
        "log_cosh_loss": ([f32(4, 3), f64(4, 3)], {}, (0,), log_cosh),
        "quantile_loss": ([f32(4, 3), f64(4, 3)], {"quantile": 0.3}, (0,), torch_quantile),
        "gaussian_nll_loss": ([f32(4, 3), f32(4, 3), rng.uniform(0.5, 2, (4, 3))], {}, (0, 2), None),
        "gaussian_nll_loss/target": (
            [f32(4, 3), f64(4, 3), rng.uniform(0.5, 2, (4, 3)).astype(np.float32)],
            {},
            (0, 2),
            None,
        ),
        "poisson_nll_loss": ([f32(4, 3), rng.poisson(2, (4, 3)).astype(np.float64)], {}, (0,), None),
        "poisson_nll_loss/rates": (
            [prob32, rng.poisson(2, (4, 3)).astype(np.float64)],
            {"log_input": False},
            (0,),
            None,
        ),
        "cross_entropy": ([f32(4, 3), probs64], {}, (0,), None),
        "cross_entropy/weight": ([f32(4, 3), idx], {"weight": w64, "label_smoothing": 0.1}, (0,), None),
        "nll_loss": ([logp32, idx], {"weight": w64}, (0,), None),
        "kl_div": ([logp32, probs64], {"reduction": "batchmean"}, (0,), None),
        "kl_div/log_target": ([logp32, np.log(probs64)], {"reduction": "sum", "log_target": True}, (0,), None),
        "binary_cross_entropy": ([prob32, y01], {"weight": w64}, (0,), None),
        "binary_cross_entropy_with_logits": ([f32(4, 3), y01], {"pos_weight": w64}, (0,), None),
        "soft_margin_loss": ([f32(4, 3), pm1_grid], {}, (0,), None),
        "multi_margin_loss": ([f32(4, 3), idx], {"weight": w64, "p": 2}, (0,), None),
        "multilabel_soft_margin_loss": ([f32(4, 3), y01], {"weight": w64}, (0,), None),
        "sigmoid_focal_loss": ([f32(4, 3), y01], {"reduction": "mean"}, (0,), torch_focal),
        "dice_loss": ([prob32, y01], {}, (0,), torch_dice),
        "hinge_embedding_loss": ([np.abs(f32(4)), pm1], {}, (0,), None),
        "margin_ranking_loss": ([f32(4), f64(4), pm1.astype(np.float32)], {"margin": 0.2}, (0, 1), None),
        "cosine_embedding_loss": ([f32(4, 3), f64(4, 3), pm1], {"margin": 0.1}, (0, 1), None),
        "triplet_margin_loss": ([f32(4, 3), f64(4, 3), f32(4, 3)], {"swap": True}, (0, 1, 2), None),
        "triplet_margin_with_distance_loss": ([f32(4, 3), f32(4, 3), f64(4, 3)], {}, (0, 1, 2), None),
        "contrastive_loss": (
            [f32(4, 3), f64(4, 3), np.array([1.0, 0.0, 1.0, 0.0])],
            {"margin": 2.0},
            (0, 1),
            _torch_contrastive,
        ),
        "info_nce_loss": ([f32(4, 3), f64(4, 3)], {"temperature": 0.5}, (0, 1), _torch_info_nce),
    }


MIXED = [
    "mse_loss", "mse_loss/weight", "l1_loss", "huber_loss", "smooth_l1_loss", "log_cosh_loss", "quantile_loss",
    "gaussian_nll_loss", "gaussian_nll_loss/target", "poisson_nll_loss", "poisson_nll_loss/rates", "cross_entropy",
    "cross_entropy/weight", "nll_loss", "kl_div", "kl_div/log_target", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "soft_margin_loss", "multi_margin_loss", "multilabel_soft_margin_loss",
    "sigmoid_focal_loss", "dice_loss", "hinge_embedding_loss", "margin_ranking_loss", "cosine_embedding_loss",
    "triplet_margin_loss", "triplet_margin_with_distance_loss", "contrastive_loss", "info_nce_loss",
]


def test_mixed_cases_cover_every_loss_with_a_float_argument():
    covered = {case.split("/")[0] for case in MIXED}
    # multilabel_margin_loss, ctc_loss and token_cross_entropy have no second float argument: their targets
    # (and lengths) hold integers only
    no_second_float = {"multilabel_margin_loss", "ctc_loss", "token_cross_entropy"}
    assert covered == set(TORCH_LOSSES + BEYOND_TORCH) - no_second_float - set(LIST_LOSSES)


LIST_LOSSES = ["ranknet_loss", "lambdarank_loss", "listnet_loss", "listmle_loss"]


@pytest.mark.parametrize("name", LIST_LOSSES + FUSED)
def test_mixed_float_dtypes_are_promoted_in_list_and_fused_losses(name):
    # these have no torch.nn.functional counterpart to compare with: a float32 argument next to a float64 one
    # must give the float64 computation, as torch's type promotion would
    rng = np.random.default_rng(0)
    fn = getattr(lossbook, name)
    if name in FUSED:
        x, W = rng.normal(size=(6, 4)).astype(np.float32), rng.normal(size=(5, 4))
        args64, args_mixed = (x.astype(np.float64), W, rng.integers(0, 5, 6)), None
        args_mixed = (x, W, args64[2])
    else:
        scores = (rng.normal(size=(3, 7)) * 50).astype(np.float32)
        rel = rng.integers(0, 4, size=(3, 7)).astype(np.float64)
        args64, args_mixed = (scores.astype(np.float64), rel), (scores, rel)
    value = fn(*args_mixed)
    assert value.dtype == np.float64
    np.testing.assert_allclose(value, fn(*args64), rtol=1e-12)


@pytest.mark.parametrize("case", MIXED)
def test_mixed_float32_float64_follows_type_promotion(case):
    from parity import check_promoted_parity

    args, kwargs, grad_argnums, torch_fn = _mixed_cases()[case]
    check_promoted_parity(case.split("/")[0], args, kwargs, grad_argnums, torch_fn=torch_fn)


def test_float32_logits_with_float64_target_as_torch():
    """Issue 12: computed in float32, this gave 4.88e-4; torch promotes to float64 and gives 3.477e-4."""
    import torch
    import torch.nn.functional as F

    x, y = np.float32([-3477.0]), np.float64([1e-7])
    expected = F.binary_cross_entropy_with_logits(torch.from_numpy(x), torch.from_numpy(y)).item()
    value = lossbook.binary_cross_entropy_with_logits(x, y)
    assert value.dtype == np.float64
    assert float(value) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("case", MIXED + ["multilabel_margin_loss"])
@pytest.mark.parametrize("kind", ["int", "bool"])
def test_integer_and_boolean_predictions_are_refused(case, kind):
    if case == "multilabel_margin_loss":
        args, kwargs, grad_argnums = [np.zeros((2, 3)), np.array([[0, -1, -1], [2, 1, -1]])], {}, (0,)
    else:
        args, kwargs, grad_argnums, _ = _mixed_cases()[case]
    name = case.split("/")[0]
    fn = getattr(lossbook, name)
    params = list(inspect.signature(fn).parameters)
    for i in grad_argnums:
        if name == "gaussian_nll_loss" and i == 2:
            continue  # var is a variance, not checked here
        bad = list(args)
        bad[i] = np.round(args[i]).astype(np.int64) if kind == "int" else args[i] > 0
        what = "integers" if kind == "int" else "booleans"
        pattern = rf"`{params[i]}` is a prediction and must hold floating-point numbers, but it holds {what}.*labels"
        with pytest.raises(TypeError, match=pattern):
            fn(*bad, **kwargs)
        with pytest.raises(TypeError, match=pattern):
            fn.grad(*bad, **kwargs)


def test_integer_targets_stay_accepted_for_real_valued_targets():
    x = np.float32([[0.2, -1.0], [3.0, 0.5]])
    # (binary_cross_entropy_with_logits and kl_div refuse integer targets, as torch does: tests/test_classification_*)
    for name in ("mse_loss", "huber_loss", "poisson_nll_loss", "soft_margin_loss", "multilabel_soft_margin_loss"):
        y = np.array([[1, 0], [1, 1]]) if name != "soft_margin_loss" else np.array([[1, -1], [1, 1]])
        fn = getattr(lossbook, name)
        value = fn(x, y)
        assert value.dtype == np.float32, name  # an integer target takes no part in the promotion
        np.testing.assert_array_equal(value, fn(x, y.astype(np.float32)))


def test_integer_weights_and_variances_take_no_part_in_the_promotion():
    x, y = np.float32([[0.2, -1.0], [3.0, 0.5]]), np.float32([[1, 0], [1, 1]])
    w = np.array([[1, 2], [3, 4]])
    calls = [
        (lossbook.mse_loss, (x, y), {"weight": w}),
        (lossbook.huber_loss, (x, y), {"weight": w}),
        (lossbook.binary_cross_entropy_with_logits, (x, y), {"weight": w, "pos_weight": np.array([2, 3])}),
        (lossbook.multilabel_soft_margin_loss, (x, y), {"weight": np.array([1, 2])}),
        (lossbook.cross_entropy, (x, np.array([0, 1])), {"weight": np.array([1, 2])}),
        (lossbook.nll_loss, (x - 5, np.array([0, 1])), {"weight": np.array([1, 2])}),
        (lossbook.multi_margin_loss, (x, np.array([0, 1])), {"weight": np.array([1, 2])}),
        (lossbook.gaussian_nll_loss, (x, y, np.array([[1, 2], [3, 4]])), {}),
    ]
    for fn, args, kwargs in calls:
        assert fn(*args, **kwargs).dtype == np.float32, fn.__name__
        g = fn.grad(*args, **kwargs)
        assert (g[0] if isinstance(g, tuple) else g).dtype == np.float32, fn.__name__


def test_pyproject_license_is_an_spdx_expression_setuptools_accepts_without_warning():
    """Issue 12: a TOML-table `project.license` is deprecated (setuptools warns that builds stop working)."""
    import pathlib
    import warnings

    import tomllib
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    root = pathlib.Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"] and (root / "LICENSE").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any SetuptoolsDeprecationWarning fails the test
        dist = apply_configuration(Distribution(), root / "pyproject.toml")
    assert dist.metadata.license_expression == "MIT"


# ---------------------------------------------------------------------------------------------------------
# PyTorch's own test inputs for its loss modules (torch.testing._internal.common_modules.module_db)
# ---------------------------------------------------------------------------------------------------------
MODULE_DB_NAMES = {
    "CosineEmbeddingLoss": "cosine_embedding_loss", "L1Loss": "l1_loss", "SmoothL1Loss": "smooth_l1_loss",
    "KLDivLoss": "kl_div", "MSELoss": "mse_loss", "MarginRankingLoss": "margin_ranking_loss",
    "MultiLabelMarginLoss": "multilabel_margin_loss", "MultiMarginLoss": "multi_margin_loss",
    "SoftMarginLoss": "soft_margin_loss", "MultiLabelSoftMarginLoss": "multilabel_soft_margin_loss",
    "NLLLoss": "nll_loss", "GaussianNLLLoss": "gaussian_nll_loss", "PoissonNLLLoss": "poisson_nll_loss",
    "HingeEmbeddingLoss": "hinge_embedding_loss", "HuberLoss": "huber_loss", "BCELoss": "binary_cross_entropy",
    "BCEWithLogitsLoss": "binary_cross_entropy_with_logits", "CrossEntropyLoss": "cross_entropy",
}
# Losses all of whose module_db samples lossbook refuses on purpose: random non-±1 targets (margin ranking),
# target rows listing a class twice (multi-label margin).
# kl_div: module_db draws its targets from randn (negative "probabilities", NaN log-targets), which lossbook refuses.
MODULE_DB_ALL_REFUSED = {"margin_ranking_loss", "multilabel_margin_loss", "kl_div"}


@pytest.fixture(scope="module")
def module_db_samples():
    pytest.importorskip("expecttest")  # torch's internal test helpers need it
    import torch
    from torch.testing._internal.common_modules import module_db

    torch.manual_seed(0)  # module_db draws its samples from the global generator: fix them, so the test is stable
    samples = {}
    for info in module_db:
        name = MODULE_DB_NAMES.get(info.module_cls.__name__)
        if name:
            found = info.module_inputs_func(info, device="cpu", dtype=torch.float64, requires_grad=True, training=False)
            samples[name] = (info.module_cls, found)
    return samples


def test_module_db_covers_every_torch_loss(module_db_samples):
    assert set(module_db_samples) == set(MODULE_DB_NAMES.values())
    assert set(MODULE_DB_NAMES.values()) <= set(TORCH_LOSSES)


@pytest.mark.parametrize("name", sorted(MODULE_DB_NAMES.values()))
def test_parity_on_torchs_own_module_test_inputs(name, module_db_samples):
    """Every sample lossbook accepts must match the torch module in value and gradient. lossbook may refuse
    a sample (ValueError, TypeError, IndexError), being stricter by design: negative weights, targets that are
    not ±1 or not probabilities, repeated class indices."""
    import warnings

    import torch

    def np_(v):
        return v.detach().numpy().copy() if isinstance(v, torch.Tensor) else v

    module_cls, samples = module_db_samples[name]
    fn = getattr(lossbook, name)
    compared = 0
    for s in samples:
        c, f = s.constructor_input, s.forward_input
        assert not c.args and not f.kwargs, "module_db changed its sample format"
        args = [a.detach().clone().requires_grad_(a.requires_grad) if torch.is_tensor(a) else a for a in f.args]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # KLDivLoss's warning about reduction='mean'
            out = module_cls(**c.kwargs)(*args)
        np_args, np_kwargs = [np_(a) for a in args], {k: np_(v) for k, v in c.kwargs.items()}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", lossbook.LossInputWarning)
                value = fn(*np_args, **np_kwargs)
                grads = fn.grad(*np_args, **np_kwargs)
        except (ValueError, TypeError, IndexError):
            continue
        out.sum().backward()
        what = f"{name} on module_db sample {s.desc!r} {c.kwargs}"
        np.testing.assert_allclose(value, out.detach().numpy(), rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=what)
        grads = grads if isinstance(grads, tuple) else (grads,)
        with_grad = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        for g, a in zip(grads, with_grad, strict=False):
            if g is not None and a.grad is not None:
                np.testing.assert_allclose(g, a.grad.numpy(), rtol=1e-7, atol=1e-10, equal_nan=True, err_msg=what)
        compared += 1
    if name not in MODULE_DB_ALL_REFUSED:
        assert compared > 0, f"lossbook refused every module_db sample of {name}"
