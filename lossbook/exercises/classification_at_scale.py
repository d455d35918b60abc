"""Exercises of the chapter "Cross-entropy at scale" (chapters/classification/at_scale.ipynb)."""
import numpy as np

from lossbook.exercises import exercise

_CH = "classification/at_scale"

# 1 --------------------------------------------------------------------------------------------------------
ex = exercise("classification.at_scale.1", chapter=_CH, title="The logits of Gemma 2", rtol=1e-4)


@ex.solution
def _():
    from lossbook.book.scale import logits_bytes

    return float(logits_bytes(8192, 256_000, bytes_per_value=4) / 1e9)


@ex.mistake("You used 2 bytes per value: that is bfloat16 or float16; float32 takes 4 bytes.")
def _():
    return 8192 * 256_000 * 2 / 1e9


@ex.mistake("You divided by 2**30, which gives GiB; the question asks for GB, 10**9 bytes.")
def _():
    return 8192 * 256_000 * 4 / 2**30


# 2 --------------------------------------------------------------------------------------------------------
ex = exercise("classification.at_scale.2", chapter=_CH, title="Merging two blocks of an online log-sum-exp")

_A, _B = np.array([1.0, 2.0, 3.0]), np.array([5.0, 0.0])


def _lse(z):
    m = z.max()
    return float(m + np.log(np.exp(z - m).sum()))


@ex.solution
def _():
    return _lse(np.concatenate([_A, _B]))


@ex.mistake("You kept the larger of the two blocks' log-sum-exps; the two sums must be added, after rescaling "
            "the old one by exp(m - m').")
def _():
    return max(_lse(_A), _lse(_B))


@ex.mistake("You added the two log-sum-exps; log-sum-exps combine as log(exp(a) + exp(b)), not a + b.")
def _():
    return _lse(_A) + _lse(_B)


@ex.mistake("You did not rescale the running sum by exp(m - m') when the maximum grew from 3 to 5.")
def _():
    s = np.exp(_A - 3.0).sum()
    return float(5.0 + np.log(s + np.exp(_B - 5.0).sum()))


# 3 --------------------------------------------------------------------------------------------------------
ex = exercise("classification.at_scale.3", chapter=_CH, title="The smallest loss scale")


@ex.solution
def _():
    tiny = float(np.finfo(np.float16).tiny)  # smallest normal float16, 2**-14
    return float(2 ** int(np.ceil(np.log2(tiny / 1e-8))))


@ex.mistake("2**16 is GradScaler's initial scale and it works, but it is not the smallest power of two that "
            "lifts 1e-8 above float16's smallest normal number, 2**-14.")
def _():
    return float(2**16)


@ex.mistake("2**12 × 1e-8 = 4.1e-5 is below float16's smallest normal number (6.1e-5): it is still a subnormal, "
            "with reduced precision.")
def _():
    return float(2**12)


@ex.mistake("You aimed at the smallest subnormal float16 (2**-24 ≈ 6e-8); the question asks for the smallest "
            "normal one, 2**-14 ≈ 6.1e-5.")
def _():
    return float(2 ** int(np.ceil(np.log2(2.0**-24 / 1e-8))))
