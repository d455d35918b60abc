"""Time lossbook against PyTorch: value + gradient, CPU, float32, the same inputs.

    python tools/bench.py                       # every registered loss (this is `make bench`)
    python tools/bench.py --family regression   # one family
    python tools/bench.py --only mse_loss,cross_entropy --repeats 9
    python tools/bench.py --threads 2           # both sides on 2 threads (default 1: fair on a busy machine)
    python tools/bench.py --strict              # exit 1 when a loss is over its goal (`make bench STRICT=1`)

For each loss with a PyTorch counterpart (or, for the losses PyTorch lacks, a reference written in torch
below) it builds realistic inputs -- regression: 10^6 elements; classification: 4096 x 1000 logits;
ranking: 65,536 pairs or triplets of dimension 128 (InfoNCE: a batch of 4096, whose 4096 x 4096 similarity
matrix is the realistic cost); learning to rank: 256 queries x 100 items with graded relevance 0-4, against a
straightforward torch autograd implementation written below -- and reports the median time of a few repeats after a warm-up (the two
sides alternate within each repeat):

* lossbook: ``loss.value_and_grad(*args)``, the value and the gradient of one training step (one validation,
  and the intermediates the two share computed once, as autograd's forward pass saves them for its backward
  pass; a loss without a fused body calls ``loss(*args)`` then ``loss.grad(*args)``);
* torch:    ``loss(*tensors).backward()``;
* the 'separate' column: ``loss(*args)`` then ``loss.grad(*args)``, two independent calls (for information;
  the goal applies to the training step).

Both sides run on one thread by default (NumPy's BLAS through ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``, set
before NumPy is imported, and ``torch.set_num_threads``), timed by the process's CPU clock (``--clock wall`` for
elapsed time): on a shared machine a multi-threaded side is slowed by the load far more than a single-threaded
one, and elapsed time includes the waits for a core, so the ratio would measure the load. Compare ratios from
one run.

The goal column is the project's speed target: within 1.5x of PyTorch for element-wise losses, 3x for the
softmax family, row-wise and pairwise losses. 'match' checks that both computed the same value (to 1e-3 relative,
float32), so a wrong input table cannot produce a meaningless timing. Losses not registered yet are listed as
"not yet implemented". This is a report, not a test: timings depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time


def _threads_from_argv(argv):
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


# BLAS reads its thread count once, when NumPy is imported: set it first.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import lossbook  # noqa: E402

DT = np.float32
N_REG = 10**6
N_CLS, C_CLS = 4096, 1000
N_RANK, D_RANK = 65536, 128
N_NCE = 4096
N_LCE, D_LCE, V_LCE = 4096, 256, 32768   # tokens, hidden width, vocabulary
Q_LTR, L_LTR = 256, 100                  # learning to rank: queries, items per query

ELEMENTWISE, ROWWISE, SOFTMAX, PAIRWISE = "element-wise", "row-wise", "softmax", "pairwise"
GOAL = {ELEMENTWISE: 1.5, ROWWISE: 3.0, SOFTMAX: 3.0, PAIRWISE: 3.0}


# ---- torch references for the losses PyTorch does not have (imported lazily, like torch itself) -----------


def _torch_refs():
    import torch
    import torch.nn.functional as F

    def log_cosh_loss(input, target, reduction="mean"):
        return torch.log(torch.cosh(input - target)).mean()

    def quantile_loss(input, target, quantile=0.5, reduction="mean"):
        u = target - input
        return torch.maximum(quantile * u, (quantile - 1) * u).mean()

    def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="mean"):  # torchvision.ops
        p = torch.sigmoid(inputs)
        ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
        p_t = p * targets + (1 - p) * (1 - targets)
        loss = ce * (1 - p_t) ** gamma
        if alpha >= 0:
            loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
        return loss.mean()

    def dice_loss(input, target, smooth=1.0, reduction="mean"):
        dims = tuple(range(1, input.ndim))
        num = 2 * (input * target).sum(dims) + smooth
        den = input.sum(dims) + target.sum(dims) + smooth
        return (1 - num / den).mean()

    def contrastive_loss(input1, input2, target, margin=1.0, reduction="mean"):
        d = torch.linalg.vector_norm(input1 - input2, dim=-1)
        return (0.5 * target * d**2 + 0.5 * (1 - target) * torch.clamp(margin - d, min=0) ** 2).mean()

    def info_nce_loss(anchors, positives, temperature=0.1, reduction="mean", symmetric=False):
        logits = F.normalize(anchors, dim=1) @ F.normalize(positives, dim=1).T / temperature
        return F.cross_entropy(logits, torch.arange(anchors.shape[0]))

    def token_cross_entropy(input, target, reduction="sum"):
        return F.cross_entropy(input.flatten(0, -2), target.flatten(), reduction=reduction)


    # Learning to rank (no padding in the bench's inputs): the textbook formulas, differentiated by autograd.
    def _pair_mask(relevance):
        return relevance[:, :, None] > relevance[:, None, :]              # i should rank above j

    def ranknet_loss(scores, relevance, sigma=1.0, reduction="mean"):
        pairs = _pair_mask(relevance)
        diff = scores[:, :, None] - scores[:, None, :]
        return F.softplus(-sigma * diff)[pairs].mean()

    def lambdarank_loss(scores, relevance, sigma=1.0, k=None, reduction="mean"):
        with torch.no_grad():                                              # |ΔNDCG| weights are constants
            L = scores.shape[-1]
            order = torch.argsort(scores, dim=-1, descending=True, stable=True)
            position = torch.empty_like(order).scatter_(-1, order, torch.arange(L).expand_as(order))
            discount = 1 / torch.log2(2 + position.to(scores.dtype))
            gain = torch.exp2(relevance) - 1
            ideal_discount = 1 / torch.log2(2 + torch.arange(L, dtype=scores.dtype))
            ideal = torch.sort(gain, dim=-1, descending=True).values @ ideal_discount
            weight = ((gain[:, :, None] - gain[:, None, :]).abs()
                      * (discount[:, :, None] - discount[:, None, :]).abs() / ideal[:, None, None])
        pairs = _pair_mask(relevance)
        diff = scores[:, :, None] - scores[:, None, :]
        return (weight * F.softplus(-sigma * diff))[pairs].mean()

    def listnet_loss(scores, relevance, reduction="mean"):
        return -(torch.softmax(relevance, -1) * torch.log_softmax(scores, -1)).sum(-1).mean()

    def listmle_loss(scores, relevance, reduction="mean"):
        order = torch.argsort(relevance, dim=-1, descending=True, stable=True)
        s = torch.gather(scores, -1, order)
        lse = torch.logcumsumexp(s.flip(-1), dim=-1).flip(-1)              # log sum_{u >= t} exp(s_u)
        return (lse - s).sum(-1).mean()

    beyond = (log_cosh_loss, quantile_loss, sigmoid_focal_loss, dice_loss, contrastive_loss, info_nce_loss,
              ranknet_loss, lambdarank_loss, listnet_loss, listmle_loss, token_cross_entropy)
    return {f.__name__: f for f in beyond}


# ---- inputs, keyed by loss name: (kind, size label, builder) -----------------------------------------------
# A builder takes a Generator and returns (args, kwargs, grad_argnums); arrays are float32 (int64 for indices).


def _f(a):
    return np.asarray(a, DT)


def _reg_xy(rng):
    return _f(rng.standard_normal(N_REG)), _f(rng.standard_normal(N_REG))


def _logits(rng):
    return _f(rng.standard_normal((N_CLS, C_CLS)))


def _bits(rng, shape):
    return _f(rng.integers(0, 2, shape))


def _signs(rng, shape):
    return _f(rng.choice([-1.0, 1.0], shape))


def _emb(rng, n=None):
    return _f(rng.standard_normal((N_RANK if n is None else n, D_RANK)))


def _log_softmax(x):
    m = x.max(axis=1, keepdims=True)
    return _f(x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True)))


def _multilabel_targets(rng):
    t = np.full((N_CLS, C_CLS), -1, np.int64)  # 3 labels per row, then -1 (the end marker)
    t[:, :3] = np.stack([rng.choice(C_CLS, 3, replace=False) for _ in range(N_CLS)])
    return t


def _ltr(rng):
    return _f(rng.standard_normal((Q_LTR, L_LTR))), _f(rng.integers(0, 5, (Q_LTR, L_LTR)))


REG = f"{N_REG:.0e} elements".replace("e+0", "e")
LTR = f"{Q_LTR} queries x {L_LTR}"
CLS = f"{N_CLS}x{C_CLS}"
RANK = f"{N_RANK}x{D_RANK}"

SPECS = {
    # regression
    "mse_loss": (ELEMENTWISE, REG, lambda r: (_reg_xy(r), {}, (0,))),
    "l1_loss": (ELEMENTWISE, REG, lambda r: (_reg_xy(r), {}, (0,))),
    "huber_loss": (ELEMENTWISE, REG, lambda r: (_reg_xy(r), {"delta": 1.0}, (0,))),
    "smooth_l1_loss": (ELEMENTWISE, REG, lambda r: (_reg_xy(r), {"beta": 1.0}, (0,))),
    "log_cosh_loss": (ELEMENTWISE, REG, lambda r: (_reg_xy(r), {}, (0,))),
    "quantile_loss": (ELEMENTWISE, REG, lambda r: (_reg_xy(r), {"quantile": 0.9}, (0,))),
    "gaussian_nll_loss": (
        ELEMENTWISE, REG,
        lambda r: ((*_reg_xy(r), _f(r.uniform(0.1, 2.0, N_REG))), {}, (0, 2)),
    ),
    "poisson_nll_loss": (
        ELEMENTWISE, REG,
        lambda r: ((_f(0.5 * r.standard_normal(N_REG)), _f(r.poisson(2.0, N_REG))), {}, (0,)),
    ),
    # classification
    "cross_entropy": (SOFTMAX, CLS, lambda r: ((_logits(r), r.integers(0, C_CLS, N_CLS)), {}, (0,))),
    "nll_loss": (ROWWISE, CLS, lambda r: ((_log_softmax(_logits(r)), r.integers(0, C_CLS, N_CLS)), {}, (0,))),
    "kl_div": (
        ELEMENTWISE, CLS,
        lambda r: ((_log_softmax(_logits(r)), np.exp(_log_softmax(_logits(r)))), {"reduction": "batchmean"}, (0,)),
    ),
    "binary_cross_entropy": (
        ELEMENTWISE, CLS,
        lambda r: ((_f(r.uniform(0.01, 0.99, (N_CLS, C_CLS))), _bits(r, (N_CLS, C_CLS))), {}, (0,)),
    ),
    "binary_cross_entropy_with_logits": (
        ELEMENTWISE, CLS, lambda r: ((_logits(r), _bits(r, (N_CLS, C_CLS))), {}, (0,)),
    ),
    "soft_margin_loss": (ELEMENTWISE, CLS, lambda r: ((_logits(r), _signs(r, (N_CLS, C_CLS))), {}, (0,))),
    "multilabel_soft_margin_loss": (
        ELEMENTWISE, CLS, lambda r: ((_logits(r), _bits(r, (N_CLS, C_CLS))), {}, (0,)),
    ),
    "sigmoid_focal_loss": (
        ELEMENTWISE, CLS, lambda r: ((_logits(r), _bits(r, (N_CLS, C_CLS))), {"reduction": "mean"}, (0,)),
    ),
    "dice_loss": (
        ROWWISE, CLS,
        lambda r: ((_f(r.uniform(0, 1, (N_CLS, C_CLS))), _bits(r, (N_CLS, C_CLS))), {}, (0,)),
    ),
    "multi_margin_loss": (ROWWISE, CLS, lambda r: ((_logits(r), r.integers(0, C_CLS, N_CLS)), {}, (0,))),
    "multilabel_margin_loss": (ROWWISE, CLS, lambda r: ((_logits(r), _multilabel_targets(r)), {}, (0,))),
    # ranking
    "margin_ranking_loss": (
        ELEMENTWISE, f"{N_RANK} pairs",
        lambda r: (
            (_f(r.standard_normal(N_RANK)), _f(r.standard_normal(N_RANK)), _signs(r, N_RANK)), {"margin": 0.1}, (0, 1)
        ),
    ),
    "hinge_embedding_loss": (
        ELEMENTWISE, f"{N_RANK} pairs",
        lambda r: ((_f(r.uniform(0, 2, N_RANK)), _signs(r, N_RANK)), {}, (0,)),
    ),
    "cosine_embedding_loss": (
        ROWWISE, f"2 x {RANK}", lambda r: ((_emb(r), _emb(r), _signs(r, N_RANK)), {"margin": 0.2}, (0, 1)),
    ),
    "contrastive_loss": (
        ROWWISE, f"2 x {RANK}", lambda r: ((_emb(r), _emb(r), _bits(r, N_RANK)), {}, (0, 1)),
    ),
    "triplet_margin_loss": (ROWWISE, f"3 x {RANK}", lambda r: ((_emb(r), _emb(r), _emb(r)), {}, (0, 1, 2))),
    "triplet_margin_with_distance_loss": (
        ROWWISE, f"3 x {RANK}", lambda r: ((_emb(r), _emb(r), _emb(r)), {}, (0, 1, 2)),
    ),
    "linear_cross_entropy": (
        SOFTMAX, f"{N_LCE}x{D_LCE} -> {V_LCE}", lambda r: ((_f(r.standard_normal((N_LCE, D_LCE)) / 16),
                                                          _f(r.standard_normal((V_LCE, D_LCE)) / 16),
                                                          r.integers(0, V_LCE, N_LCE)), {}, (0, 1)),
    ),
    # sequences: T=200 steps, N=32 sequences, C=30 classes, targets of up to S=50 labels (blank 0 never used)
    "ctc_loss": (
        SOFTMAX, "T200 N32 C30 S50",
        lambda r: ((np.ascontiguousarray(_log_softmax(_f(r.standard_normal((200 * 32, 30)))).reshape(200, 32, 30)),
                    r.integers(1, 30, (32, 50)), np.full(32, 200), r.integers(25, 51, 32)), {}, (0,)),
    ),
    "token_cross_entropy": (
        SOFTMAX, f"8x512x{C_CLS}", lambda r: ((_f(r.standard_normal((8, 512, C_CLS))), r.integers(0, C_CLS, (8, 512))),
                                             {}, (0,)),
    ),
    "info_nce_loss": (
        SOFTMAX, f"2 x {N_NCE}x{D_RANK}", lambda r: ((_emb(r, N_NCE), _emb(r, N_NCE)), {}, (0, 1)),
    ),
    # learning to rank
    "ranknet_loss": (PAIRWISE, LTR, lambda r: (_ltr(r), {}, (0,))),
    "lambdarank_loss": (PAIRWISE, LTR, lambda r: (_ltr(r), {}, (0,))),
    "listnet_loss": (SOFTMAX, LTR, lambda r: (_ltr(r), {}, (0,))),
    "listmle_loss": (SOFTMAX, LTR, lambda r: (_ltr(r), {}, (0,))),
}


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
CLOCK = CLOCKS["cpu"]


def _median_ms(fns, repeats):
    """Median time (ms) of each function, after a warm-up. The functions alternate within each repeat, so a burst
    of load on a shared machine hits both sides alike. The clock is this process's CPU time by default (both sides
    run on one thread, so it is their running time without the time spent waiting for a core)."""
    for fn in fns:
        fn()  # warm-up
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times, strict=True):
            t0 = CLOCK()
            fn()
            ts.append(CLOCK() - t0)
    return [1e3 * statistics.median(ts) for ts in times]


def bench_one(name, repeats, refs):
    import torch
    import torch.nn.functional as F

    kind, size, build = SPECS[name]
    args, kwargs, grad_argnums = build(np.random.default_rng(0))
    fn = lossbook.get_loss(name)
    torch_fn = refs.get(name) or getattr(F, name)

    def run_lossbook():
        return fn.value_and_grad(*args, **kwargs)[0]

    def run_separate():
        value = fn(*args, **kwargs)
        fn.grad(*args, **kwargs)
        return value

    targs = [torch.from_numpy(np.array(a)) for a in args]
    leaves = [targs[i].requires_grad_(True) for i in grad_argnums]

    def run_torch():
        for t in leaves:
            t.grad = None
        out = torch_fn(*targs, **kwargs)
        out.backward()
        return out

    ours, theirs = float(run_lossbook()), float(run_torch().detach())
    match = "yes" if abs(ours - theirs) <= 1e-3 * max(abs(theirs), 1e-6) else f"NO ({ours:.6g} vs {theirs:.6g})"
    if float(run_separate()) != ours and not abs(float(run_separate()) - ours) <= 1e-5 * max(abs(ours), 1e-6):
        match = f"NO (value_and_grad {ours:.6g} vs the loss {float(run_separate()):.6g})"
    lb_ms, t_ms, sep_ms = _median_ms([run_lossbook, run_torch, run_separate], repeats)
    return kind, size, lb_ms, t_ms, sep_ms, match


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", choices=lossbook.FAMILIES, help="only this family")
    parser.add_argument("--only", help="comma-separated loss names")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per loss (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS and for torch (default 1: "
                        "on a loaded machine a multi-threaded side is slowed far more than a single-threaded one)")
    parser.add_argument("--clock", choices=CLOCKS, default="cpu", help="cpu: the process's CPU time (default; "
                        "robust to a busy machine with one thread per side), wall: elapsed time")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a loss is over its goal")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory comparison")
    opts = parser.parse_args(argv)

    import torch

    torch.set_num_threads(opts.threads)
    global CLOCK
    CLOCK = CLOCKS[opts.clock]

    refs = _torch_refs()
    registered = {info.name: info for info in lossbook.catalogue()}
    names = list(SPECS) + [n for n in registered if n not in SPECS]
    if opts.only:
        wanted = [n.strip() for n in opts.only.split(",") if n.strip()]
        names = [n for n in names if n in wanted] + [n for n in wanted if n not in names]

    print(f"lossbook {lossbook.__version__}, numpy {np.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads; BLAS {os.environ['OPENBLAS_NUM_THREADS']}), float32, CPU, "
          f"median {opts.clock} "
          f"time of {opts.repeats} after a warm-up")
    header = (f"{'loss':34} {'size':20} {'lossbook ms':>11} {'torch ms':>9} {'ratio':>6} {'goal':>6}  {'':4} "
              f"{'separate ms':>11} {'ratio':>6}  match")
    print(header)
    print("-" * len(header))
    slow = 0
    for name in names:
        info = registered.get(name)
        if opts.family and (info.family if info else _family_of(name)) != opts.family:
            continue
        if info is None:
            print(f"{name:34} not yet implemented")
            continue
        if name not in SPECS:
            print(f"{name:34} no benchmark input defined (add it to SPECS in tools/bench.py)")
            continue
        try:
            kind, size, lb_ms, t_ms, sep_ms, match = bench_one(name, opts.repeats, refs)
        except Exception as exc:  # one broken loss must not stop the report
            print(f"{name:34} failed: {type(exc).__name__}: {exc}")
            continue
        ratio = lb_ms / t_ms
        goal = GOAL[kind]
        verdict = "ok" if ratio <= goal else "SLOW"
        slow += verdict == "SLOW"
        print(f"{name:34} {size:20} {lb_ms:11.2f} {t_ms:9.2f} {ratio:6.2f} {goal:5.1f}x  {verdict:4} "
              f"{sep_ms:11.2f} {sep_ms / t_ms:6.2f}  {match}")
    if not opts.no_memory and (not opts.only or "linear_cross_entropy" in opts.only):
        memory_report()
    print(f"\n{slow} loss(es) over the speed goal. Goals: {GOAL[ELEMENTWISE]}x element-wise, "
          f"{GOAL[SOFTMAX]}x softmax family, row-wise and pairwise losses. Timings vary with machine load.")
    return 1 if opts.strict and slow else 0


def memory_report():
    """Peak memory (tracemalloc) of linear_cross_entropy against materialising the logits, at the issue's shape."""
    from lossbook.fused import materialised_cross_entropy, peak_memory

    rng = np.random.default_rng(0)
    x = _f(rng.standard_normal((N_LCE, D_LCE)) / 16)
    W = _f(rng.standard_normal((V_LCE, D_LCE)) / 16)
    y = rng.integers(0, V_LCE, N_LCE)
    _, naive = peak_memory(materialised_cross_entropy, x, W, y)
    _, fused = peak_memory(lambda: (lossbook.linear_cross_entropy(x, W, y), lossbook.linear_cross_entropy.grad(x, W, y)))
    ratio = fused / naive
    print(f"\nPeak memory (tracemalloc), value + gradients, N={N_LCE} tokens, d={D_LCE}, V={V_LCE}, float32:")
    print(f"  logits materialised + cross_entropy: {naive / 2**20:8.1f} MiB")
    print(f"  linear_cross_entropy (chunk_size={lossbook.fused.DEFAULT_CHUNK_SIZE}): {fused / 2**20:8.1f} MiB")
    print(f"  ratio {ratio:.3f}  (goal <= 0.10: {'ok' if ratio <= 0.10 else 'OVER'})")


_FAMILY_BY_SECTION = {
    **dict.fromkeys(["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "log_cosh_loss", "quantile_loss",
                     "gaussian_nll_loss", "poisson_nll_loss"], "regression"),
    **dict.fromkeys(["ranknet_loss", "lambdarank_loss", "listnet_loss", "listmle_loss"], "ranking"),
    **dict.fromkeys(["margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss", "contrastive_loss",
                     "triplet_margin_loss", "triplet_margin_with_distance_loss", "info_nce_loss"], "ranking"),
}


def _family_of(name):
    """Family of a loss in SPECS that is not registered yet (for --family filtering)."""
    return _FAMILY_BY_SECTION.get(name, "classification")


if __name__ == "__main__":
    sys.exit(main())
