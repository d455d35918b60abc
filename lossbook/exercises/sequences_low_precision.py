"""Exercises of the chapter "Cross-entropy in low precision" (chapters/sequences/low_precision.ipynb)."""
import numpy as np

from lossbook.exercises import exercise

_CH = "sequences/low_precision"

# 1 --------------------------------------------------------------------------------------------------------
ex = exercise("sequences.low_precision.1", chapter=_CH, title="The smallest loss scale")


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


# 2 --------------------------------------------------------------------------------------------------------
ex = exercise("sequences.low_precision.2", chapter=_CH, title="Where a float16 running sum stalls")


@ex.solution
def _():
    total = np.float16(1.0)
    while total + np.float16(9.0) != total:
        total = np.float16(total * 2)
    return float(total)


@ex.mistake("65,504 is the largest float16 number; the sum stops growing long before, once the spacing between "
            "float16 numbers (32 above 32,768) is more than twice the 9 being added.")
def _():
    return 65504.0


@ex.mistake("2,048 is where float16 stops representing every integer; an addition of 9 still changes the total "
            "there, by rounding to a multiple of 2.")
def _():
    return 2048.0


@ex.mistake("Between 16,384 and 32,768 the spacing is 16, and 9 rounds up to 16: the total still grows (too fast).")
def _():
    return 16384.0


# 3 --------------------------------------------------------------------------------------------------------
ex = exercise("sequences.low_precision.3", chapter=_CH, title="A soft-capped logit", rtol=1e-6)


@ex.solution
def _():
    return float(30.0 * np.tanh(60.0 / 30.0))


@ex.mistake("Soft-capping is not clipping: 30 * tanh(z / 30) approaches the cap without reaching it.")
def _():
    return 30.0


@ex.mistake("You left the logit unchanged; above the cap, 30 * tanh(z / 30) bends it below 30.")
def _():
    return 60.0
