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
]
BEYOND_TORCH = ["sigmoid_focal_loss", "log_cosh_loss", "quantile_loss", "contrastive_loss", "info_nce_loss", "dice_loss",
                "ranknet_loss", "lambdarank_loss", "listnet_loss", "listmle_loss"]
DEPRECATED = {"size_average", "reduce"}


def _params(fn):
    return [
        (p.name, p.default, p.kind)
        for p in inspect.signature(fn).parameters.values()
        if p.name not in DEPRECATED
    ]


@pytest.mark.parametrize("name", TORCH_LOSSES)
def test_same_name_parameters_order_and_defaults_as_torch(name):
    import torch.nn.functional as F

    assert hasattr(lossbook, name), f"lossbook.{name} is missing"
    assert _params(getattr(lossbook, name)) == _params(getattr(F, name))


@pytest.mark.parametrize("name", TORCH_LOSSES + BEYOND_TORCH)
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
    assert sorted(names) == sorted(set(TORCH_LOSSES + BEYOND_TORCH))
    families = [lossbook.FAMILIES.index(i.family) for i in lossbook.catalogue()]
    assert families == sorted(families)
    assert all(i.family == "ranking" for i in lossbook.catalogue("ranking"))
    with pytest.raises(ValueError, match="`family` must be one of"):
        lossbook.catalogue("vision")


def test_import_is_light():
    code = (
        "import sys, time; t = time.perf_counter(); import lossbook; dt = time.perf_counter() - t; "
        "print(dt); assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    # The first run warms the file cache (numpy's import dominates); time the best of three.
    times = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        times.append(float(out.stdout))
    assert min(times) < 0.150, f"import lossbook took {min(times) * 1000:.0f} ms"


def test_torch_tensors_are_refused_with_a_hint():
    import torch

    with pytest.raises(TypeError, match=r"\.detach\(\)\.cpu\(\)\.numpy\(\)"):
        lossbook.mse_loss(torch.zeros(3), np.zeros(3))


def test_get_loss_and_unknown_name():
    assert lossbook.get_loss("mse_loss") is lossbook.mse_loss
    with pytest.raises(KeyError, match="no loss named"):
        lossbook.get_loss("mse")
