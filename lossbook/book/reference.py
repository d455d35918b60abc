"""Tables generated from the losses' metadata, for the book's appendices (and for anyone's own notes).

:func:`catalogue_markdown` renders :func:`lossbook.catalogue` as a Markdown table, so the book's
target-format cheat sheet is produced by the code that enforces those formats.
"""
from __future__ import annotations

from .._registry import FAMILIES, catalogue

__all__ = ["catalogue_rows", "catalogue_markdown", "catalogue_cards", "catalogue_index", "catalogue_label", "short_torch_name"]

COLUMNS = {
    "name": "lossbook",
    "prediction": "prediction",
    "target_dtype": "target dtype",
    "target_shape": "target shape",
    "target_values": "target values",
    "torch": "PyTorch",
}


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def catalogue_rows(family: str | None = None) -> list[dict]:
    """One dict per loss: the columns of :data:`COLUMNS`, as plain strings."""
    rows = []
    for info in catalogue(family):
        torch = " / ".join(x for x in (info.torch_function, info.torch_module) if x) or "(none: beyond PyTorch)"
        rows.append(
            {
                "name": info.name,
                "prediction": info.prediction,
                "target_dtype": info.target_dtype,
                "target_shape": info.target_shape,
                "target_values": info.target_values,
                "torch": torch,
            }
        )
    return rows


def catalogue_markdown(family: str | None = None) -> str:
    """A Markdown table of every loss (of one family, or all, grouped by family)."""
    families = [family] if family else list(FAMILIES)
    parts = []
    for fam in families:
        rows = catalogue_rows(fam)
        if not rows:
            continue
        header = "| " + " | ".join(COLUMNS.values()) + " |"
        rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
        body = []
        for r in rows:
            cells = [f"`{r['name']}`"] + [_escape(r[k]) for k in list(COLUMNS)[1:-1]]
            torch = r["torch"]
            if "none" not in torch:
                torch = " / ".join(f"`{t.strip()}`" for t in torch.split(" / "))
            cells.append(torch)
            body.append("| " + " | ".join(cells) + " |")
        title = "" if family else f"**{fam.capitalize()}**\n\n"
        parts.append(title + "\n".join([header, rule, *body]))
    return "\n\n".join(parts)


# ----------------------------------------------------------------------------------- the cheat sheet
def short_torch_name(name: str) -> str:
    """``torch.nn.functional.x`` -> ``F.x`` and ``torch.nn.X`` -> ``nn.X`` (the usual import aliases)."""
    name = name.strip()
    if name.startswith("torch.nn.functional."):
        return "F." + name[len("torch.nn.functional."):]
    if name.startswith("torch.nn."):
        return "nn." + name[len("torch.nn."):]
    return name


def catalogue_label(name: str) -> str:
    """The cross-reference label of a loss's card in the catalogue appendix (``{ref}`` target)."""
    return f"catalogue-{name.replace('_', '-')}"


def catalogue_index(family: str | None = None) -> str:
    """A MyST line per family that links every loss's name to its card (the 'jump to a loss' bar)."""
    families = [family] if family else list(FAMILIES)
    lines = []
    for fam in families:
        names = [info.name for info in catalogue(fam)]
        if names:
            links = " · ".join(f"{{ref}}`{n} <{catalogue_label(n)}>`" for n in names)
            lines.append(f"**{fam.capitalize()}**: {links}")
    return "\n\n".join(lines)


def catalogue_cards(family: str | None = None) -> str:
    """The catalogue as MyST Markdown, one compact card (a definition list) per loss.

    Each card has a ``{ref}`` label (:func:`catalogue_label`), the loss's name, what its prediction is,
    its target's dtype, shape and values, and the PyTorch function and module with the same semantics
    (``F`` = ``torch.nn.functional``, ``nn`` = ``torch.nn``). Short lines, so the cards fit a narrow column.
    """
    families = [family] if family else list(FAMILIES)
    cards = []
    for fam in families:
        for r in catalogue_rows(fam):
            if "none" in r["torch"] and "beyond" in r["torch"]:
                torch = "none (beyond PyTorch)"
            else:
                torch = ", ".join(f"`{short_torch_name(t)}`" for t in r["torch"].split(" / "))
            cards.append(
                "\n".join(
                    [
                        f"({catalogue_label(r['name'])})=",
                        f"`{r['name']}`",
                        f": **prediction** {_escape(r['prediction'])} · **PyTorch** {torch}",
                        f": **target** {_escape(r['target_dtype'])}; **shape** {_escape(r['target_shape'])}",
                        f": **values** {_escape(r['target_values'])}",
                    ]
                )
            )
    return "\n\n".join(cards)
