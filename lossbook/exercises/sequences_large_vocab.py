"""Exercises of the chapter "Cross-entropy at large vocabularies" (chapters/sequences/large_vocab.ipynb)."""
import numpy as np

from lossbook.exercises import exercise

_CH = "sequences/large_vocab"

# 1 --------------------------------------------------------------------------------------------------------
ex = exercise("sequences.large_vocab.1", chapter=_CH, title="The logits of Gemma 2", rtol=1e-4)


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
ex = exercise("sequences.large_vocab.2", chapter=_CH, title="Merging two blocks of an online log-sum-exp")

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
ex = exercise("sequences.large_vocab.3", chapter=_CH, title="What checkpointing the loss saves", rtol=1e-4)


@ex.solution
def _():
    return 8192 * 128_256 * 4 / 2**30


@ex.mistake("You counted the log-softmax twice, once for LogSoftmaxBackward and once for NllLossBackward: both "
            "refer to the same storage, one matrix in memory.")
def _():
    return 2 * 8192 * 128_256 * 4 / 2**30


@ex.mistake("You divided by 10**9 (GB); the question asks for GiB, 2**30 bytes.")
def _():
    return 8192 * 128_256 * 4 / 1e9


@ex.mistake("You used 2 bytes per value; the log-softmax here is float32, 4 bytes.")
def _():
    return 8192 * 128_256 * 2 / 2**30
