"""The comparison of stored and fresh notebook outputs (root conftest.py): what it accepts, and that it rejects
real changes.

The rule: each number may differ by at most one unit in its last shown digit (the finer of the two when the
number of digits changed at a rounding boundary), integers must be equal, and all other text must match exactly;
a cell may declare a looser tolerance in its metadata, with its reason.
"""
import importlib.util
import json
import pathlib
import types

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cmp():
    spec = importlib.util.spec_from_file_location("lossbook_root_conftest_cmp", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------- single lines
@pytest.mark.parametrize("stored, fresh", [
    ("0.5355", "0.5356"),                        # one unit in the last shown digit
    ("0.5356", "0.5355"),
    ("huber: 0.535", "huber: 0.536"),
    ("ECE 0.050 -> 0.021", "ECE 0.051 -> 0.020"),  # every number on its own
    ("-0.001", "0.000"),                         # a sign that straddles zero
    ("-0.000", "0.000"),
    ("1.23e-14", "1.24e-14"),                    # exponents: a unit of the mantissa's last digit
    ("9.99e-15", "1.00e-14"),                    # the exponent moved at a boundary
    ("9.99", "10.0"),                            # one more integer digit at a boundary
    ("0.0999", "0.1"),                           # `:.3g` drops zeros at a boundary
    ("0.1", "0.09999999999999999"),              # repr: the shortest round trip
    ("0.87 ± 0.01", "0.88 ± 0.01"),
    ("tensor([0.1234, -0.5000])", "tensor([0.1235, -0.5001])"),
    ("<td>0.125</td>", "<td>0.126</td>"),
    ("x-0.5", "x-0.6"),                          # after a letter the minus is text, the number is 0.5
    ("loss 2.5.", "loss 2.6."),                  # a number that ends a sentence
    ("1.5×", "1.6×"),
    ("−0.25", "−0.24"),                          # U+2212, as matplotlib writes it
])
def test_accepts_one_unit_in_the_last_shown_digit(cmp, stored, fresh):
    assert cmp.text_difference(stored, fresh) is None


@pytest.mark.parametrize("stored, fresh", [
    ("0.050", "0.058"),                          # the ECE that moved in issue 16
    ("0.5355", "0.5357"),                        # two units
    ("0.869", "0.867"),
    ("0.5354962411296924", "0.535496241129685"),  # a raw float64 repr: 7 units of the shorter one's digit
    ("3.4786140837051355e+183", "3.478614083705148e+183"),
    ("1.3544720900426818e-14", "1.3766765505351846e-14"),  # rounding noise stored as a value
    ("2859.69634758675", "2859.6963475867506"),
    ("0.5", "0.54"),                             # fewer digits is no licence: the finer digit is the unit
    ("1.0", "1.2"),
    ("2", "1.5"),                                # an integer that became a decimal far from it
    ("1.23e-14", "1.25e-14"),
    ("1.23e-14", "1.23e-13"),                    # a changed exponent
    ("0.5", "-0.5"),                             # a changed sign
    ("best epoch 50", "best epoch 45"),          # integers must be equal
    ("3 misclassified", "4 misclassified"),
    ("10", "11"),
    ("ECE 0.050", "ECC 0.050"),                  # a changed word
    ("ECE 0.050", "ECE  0.050"),                 # a changed space
    ("loss: 0.5", "loss = 0.5"),
    ("float64", "float32"),                      # digits inside a word are text
    ("torch 2.4.0", "torch 2.4.1"),              # a version is text
    ("0.5, 0.6", "0.5, 0.6, 0.7"),               # an extra number
    ("nan", "0.5"),
])
def test_rejects_real_changes(cmp, stored, fresh):
    assert cmp.text_difference(stored, fresh) is not None
    assert cmp.text_difference(fresh, stored) is not None, "the rule must be symmetric"


def test_rejects_a_missing_or_extra_line(cmp):
    stored = "epoch 1: 0.50\nepoch 2: 0.40\n"
    assert cmp.text_difference(stored, "epoch 1: 0.50\n") is not None
    assert cmp.text_difference(stored, stored + "epoch 3: 0.30\n") is not None
    assert cmp.text_difference(stored, stored.rstrip("\n")) is not None
    assert cmp.text_difference(stored, "epoch 1: 0.51\nepoch 2: 0.39\n") is None


def test_reports_where_and_what(cmp):
    why = cmp.text_difference("a 0.1\nb 0.050\n", "a 0.1\nb 0.058\n")
    assert "line 2" in why and "0.050" in why and "0.058" in why
    assert "integer" in cmp.text_difference("n = 3", "n = 4")


def test_a_declared_tolerance_loosens_numbers_and_integers_but_not_text(cmp):
    assert cmp.text_difference("0.050", "0.053", 3, 3) is None
    assert cmp.text_difference("0.050", "0.054", 3, 3) is not None
    assert cmp.text_difference("epoch 50", "epoch 48", 3, 3) is None
    assert cmp.text_difference("epoch 50", "epoch 46", 3, 3) is not None
    assert cmp.text_difference("epoch 50", "epoch 49", 1, 1) is None      # a declared 1 covers integers too
    assert cmp.text_difference("ECE 0.050", "ECC 0.050", 3, 3) is not None


# ------------------------------------------------------------------------------------------- cell metadata
def _cell(meta=None):
    return nbformat.v4.new_code_cell("x", metadata=meta or {})


def test_cell_tolerance_needs_digits_and_a_reason(cmp):
    assert cmp.cell_tolerance(_cell()) == (1, 0)
    ok = {"lossbook": {"tolerance": {"digits": 3, "reason": "SGD over 300 steps amplifies last-digit noise"}}}
    assert cmp.cell_tolerance(_cell(ok)) == (3, 3)
    for bad in ({"digits": 3}, {"digits": 3, "reason": ""}, {"digits": 0, "reason": "r"},
                {"digits": "3", "reason": "r"}, {"reason": "r"}):
        with pytest.raises(ValueError, match="reason"):
            cmp.cell_tolerance(_cell({"lossbook": {"tolerance": bad}}))


def declared_tolerances():
    """(notebook, cell index, tolerance) for every chapter cell that declares one."""
    found = []
    for path in sorted((ROOT / "chapters").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            tol = cell.get("metadata", {}).get("lossbook", {}).get("tolerance")
            if tol is not None:
                found.append((path.relative_to(ROOT).as_posix(), i, tol))
    return found


def test_every_declared_tolerance_is_valid_rare_and_listed_in_the_conventions(cmp):
    conventions = (ROOT / "chapters" / "appendices" / "conventions.md").read_text(encoding="utf-8")
    found = declared_tolerances()
    for nb, i, tol in found:
        assert cmp.cell_tolerance({"metadata": {"lossbook": {"tolerance": tol}}})[0] >= 1, (nb, i)
        assert nb.removeprefix("chapters/").removesuffix(".ipynb") in conventions, (
            f"{nb} cell {i} declares a tolerance; list it under 'A looser tolerance' in the conventions appendix")
    assert len(found) <= 10, f"looser tolerances must be rare; {len(found)} cells declare one: {found}"


# --------------------------------------------------------------------------------------- the hook into nbval
class _Colors:
    def __getattr__(self, name):
        return ""


def _fake_item(cmp, cell):
    # nbval's default skips (IPyNbFile.__init__): metadata, counters, and figures' pixels
    parent = types.SimpleNamespace(skip_compare=(
        "metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
        "image/png", "image/jpeg"))
    return types.SimpleNamespace(
        cell=cell, parent=parent, colors=_Colors(), sanitize=lambda s: s, config=None,
        ihook=types.SimpleNamespace(pytest_assertrepr_compare=lambda **kw: []),
        format_output_compare=lambda key, left, right: None)


def _compare(cmp, item, test, ref):
    from nbval.plugin import IPyNbCell

    assert getattr(IPyNbCell.compare_outputs, "lossbook", False), "the root conftest must wrap nbval's comparison"
    return IPyNbCell.compare_outputs(item, test, ref)


def _outputs(stdout=None, plain=None, png=None):
    outs = []
    if stdout is not None:
        outs.append(nbformat.v4.new_output("stream", name="stdout", text=stdout))
    if plain is not None:
        data = {"text/plain": plain}
        if png is not None:
            data["image/png"] = png
        outs.append(nbformat.v4.new_output("execute_result", data=data, execution_count=1))
    return outs


def test_nbval_uses_the_comparator(cmp):
    item = _fake_item(cmp, _cell())
    ref = _outputs(stdout="ECE 0.050\n", plain="0.5355")
    assert _compare(cmp, item, _outputs(stdout="ECE 0.050\n", plain="0.5355"), ref)
    assert _compare(cmp, item, _outputs(stdout="ECE 0.051\n", plain="0.5356"), ref)
    assert item.comparison_traceback == []
    assert not _compare(cmp, item, _outputs(stdout="ECE 0.058\n", plain="0.5355"), ref)
    assert "lossbook comparator" in item.comparison_traceback[0] and "0.058" in item.comparison_traceback[0]
    assert not _compare(cmp, item, _outputs(stdout="ECE 0.050\n"), ref)                    # a missing output
    assert not _compare(cmp, item, _outputs(stdout="ECE 0.050\n", plain="0.5355") * 2, ref)  # an extra one
    # figures are not compared (as nbval without --nbdime); their text is
    assert _compare(cmp, item, _outputs(plain="<Figure>", png="AAAA"), _outputs(plain="<Figure>", png="BBBB"))


def test_glued_values_are_compared_as_text(cmp):
    assert cmp.is_text_output("application/papermill.record/text/plain")
    assert cmp.is_text_output("stdout") and cmp.is_text_output("text/html")
    assert not cmp.is_text_output("application/papermill.record/image/png")
    assert not cmp.is_text_output("application/json")
    item = _fake_item(cmp, _cell())

    def glued(value):
        return [nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": value})]

    assert _compare(cmp, item, glued("0.536"), glued("0.535"))
    assert not _compare(cmp, item, glued("0.5354962411296924"), glued("0.535496241129685"))


def test_nbval_honours_a_declared_tolerance(cmp):
    loose = _cell({"lossbook": {"tolerance": {"digits": 5, "reason": "training noise"}}})
    ref = _outputs(stdout="ECE 0.050\n")
    assert not _compare(cmp, _fake_item(cmp, _cell()), _outputs(stdout="ECE 0.054\n"), ref)
    assert _compare(cmp, _fake_item(cmp, loose), _outputs(stdout="ECE 0.054\n"), ref)
    assert not _compare(cmp, _fake_item(cmp, loose), _outputs(stdout="ECE 0.056\n"), ref)


def test_a_missing_line_is_named(cmp):
    why = cmp.text_difference("a\nb 0.5\nc\n", "a\nc\n")
    assert why.startswith("3 lines stored, 2 now; line 2: 'b 0.5' stored, 'c' now"), why
