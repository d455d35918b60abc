"""Exercises of chapters/classification/choosing.ipynb (choosing a loss from the task and the target format)."""
import numpy as np

from lossbook.exercises import exercise

ex = exercise("classification.choosing.1", chapter="classification/choosing", title="A loss for five independent tags")


@ex.solution
def _():
    return "binary_cross_entropy_with_logits"


@ex.mistake("cross_entropy puts one softmax over the five tags, so they compete for probability: a photo could not "
            "be both 'beach' and 'night'. Use one sigmoid per tag.")
def _():
    return "cross_entropy"


@ex.mistake("binary_cross_entropy takes probabilities, so the model would end in a sigmoid and lose the stable "
            "log-sum-exp form; the model outputs logits, so use the _with_logits version.")
def _():
    return "binary_cross_entropy"


@ex.mistake("multilabel_margin_loss is a hinge loss on scores with a padded list of label indices; it gives no "
            "probabilities. The standard choice for independent tags is one sigmoid and BCE per tag.")
def _():
    return "multilabel_margin_loss"


ex = exercise("classification.choosing.2", chapter="classification/choosing", title="The shape of a per-pixel target")


@ex.solution
def _():
    return np.array([16, 32, 32])


@ex.mistake("That is the input's shape: a target of that shape is read as per-pixel class probabilities (float). "
            "Class indices drop the class axis.")
def _():
    return np.array([16, 4, 32, 32])


@ex.mistake("A mask with a channel axis of size 1 is refused ('only batches of spatial targets supported'): squeeze "
            "axis 1.")
def _():
    return np.array([16, 1, 32, 32])


ex = exercise("classification.choosing.3", chapter="classification/choosing", title="The dtype of a binary target")


@ex.solution
def _():
    return "float32"


@ex.mistake("int64 (Long) is what caused the error: the binary losses compute with the target, so it must be a "
            "float, like the logits.")
def _():
    return "int64"


@ex.mistake("The target of a binary loss is a float tensor, not a boolean one: convert with labels.float().")
def _():
    return "bool"


ex = exercise("classification.choosing.4", chapter="classification/choosing", title="Which call raises in PyTorch?")


@ex.solution
def _():
    return "a"


@ex.mistake("CrossEntropyLoss accepts uint8 (Byte) class indices as well as int64 (Long): 'expected target dtype "
            "to be Long or Byte'. Only int32 and the other integer dtypes are refused.")
def _():
    return "b"


@ex.mistake("MSELoss broadcasts a (N, 1) target against (N,) predictions into an (N, N) loss with only a "
            "UserWarning: it trains silently wrong, but it does not raise.")
def _():
    return "c"
