"""Cell analysis: what a cell reads, writes, deletes and displays (pure logic)."""

import pytest

from cellfleet.kernel.analysis import analyze, uses_ipython


def test_reads_only_names_used_before_assignment():
    result = analyze("y = x + 1\nprint(y)")
    assert result.reads == {"x", "print"}
    assert result.writes == ("y",)


def test_augmented_assignment_reads_the_old_value():
    assert analyze("x += 1").reads == {"x"}
    assert analyze("x = x * 2").writes == ("x",)


def test_function_bodies_read_globals_but_not_their_locals():
    result = analyze("def f(a):\n    b = 2\n    return a + b + scale\nz = f(3)")
    assert result.reads == {"scale"}
    assert result.writes == ("f", "z")


def test_class_bodies_and_methods_read_globals():
    result = analyze("class A:\n    k = K\n    def m(self):\n        return G\n")
    assert result.reads == {"K", "G"}
    assert result.writes == ("A",)


def test_imports_are_writes_not_reads():
    result = analyze("import numpy as np\nfrom os import path\na = np.ones(3)")
    assert result.reads == frozenset()
    assert result.writes == ("np", "path", "a")


def test_conditional_assignment_still_reads_the_old_value():
    result = analyze("if flag:\n    v = 1\nprint(v)")
    assert {"flag", "v"} <= result.reads
    assert result.writes == ("v",)


def test_comprehension_variables_do_not_leak():
    result = analyze("total = [w * 2 for w in items]")
    assert result.reads == {"items"}
    assert result.writes == ("total",)


def test_global_statement_in_a_function_is_a_write():
    assert "counter" in analyze("def bump():\n    global counter\n    counter = 1\nbump()").writes


def test_del_is_recorded_as_a_delete():
    result = analyze("del old")
    assert result.deletes == {"old"}
    assert result.reads == {"old"}
    assert analyze("del t\nt = 1").deletes == frozenset()


@pytest.mark.parametrize(
    ("source", "displays"),
    [("x", True), ("x = 1", False), ("x;", False), ("f(1)  # call", True), ("x  ; # quiet", False), ("", False)],
)
def test_last_expression_is_displayed_unless_silenced(source, displays):
    assert analyze(source).displays_last is displays


def test_syntax_errors_surface_with_the_cell_name():
    with pytest.raises(SyntaxError) as info:
        analyze("x = (", "<cell In[3]>")
    assert info.value.filename == "<cell In[3]>"


def test_magics_are_detected_after_ipython_transformation():
    assert uses_ipython("get_ipython().run_line_magic('time', 'x')")
    assert not uses_ipython("x = get_value()")


@pytest.mark.parametrize(
    ("source", "changed"),
    [
        ("a[0] = 1", {"a"}),
        ("a.b[1:3] += 2", {"a"}),
        ("a += 1\nb = c", {"a"}),
        ("del d['k']", {"d"}),
        ("for i in range(3):\n    e.x = i", {"e"}),
        ("total = a.sum()\na.sort()", set()),  # in-place methods cannot be told from reads
        ("f(a)[0] = 1", set()),
    ],
)
def test_names_changed_in_place_are_found_through_subscripts_attributes_and_augmented_assignment(source, changed):
    assert analyze(source).changed_in_place == changed
