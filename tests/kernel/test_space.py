"""Search spaces for ``--search``: the distributions read, and mistakes that show the right form."""

from __future__ import annotations

import pytest

from cellfleet.kernel.options import OptionError
from cellfleet.kernel.space import Dimension, parse_dimension, parse_space


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("lr=uniform(0,1)", Dimension("lr", "uniform", 0.0, 1.0)),
        ("lr=loguniform(1e-5,1e-1)", Dimension("lr", "loguniform", 1e-5, 0.1)),
        ("layers=int(1,6)", Dimension("layers", "int", 1, 6, 1)),
        ("units=int(32,256,32)", Dimension("units", "int", 32, 256, 32)),
        ("act=choice(relu,gelu)", Dimension("act", "choice", choices=("relu", "gelu"))),
        ("p=choice(0.1, 'a,b', None, True)", Dimension("p", "choice", choices=(0.1, "a,b", None, True))),
        (" x = uniform( -1 , 1 ) ", Dimension("x", "uniform", -1.0, 1.0)),
    ],
)
def test_distributions_are_read(spec, expected):
    assert parse_dimension(spec) == expected


@pytest.mark.parametrize(
    ("spec", "problem", "form"),
    [
        ("lr", "start with a variable name", "NAME=uniform(LOW,HIGH)"),
        ("1lr=uniform(0,1)", "start with a variable name", "NAME=loguniform"),
        ("lr=0.1", "is not a distribution", "lr=uniform(LOW,HIGH)"),
        ("lr=normal(0,1)", "unknown distribution 'normal'", "lr=choice(V1,V2,...)"),
        ("lr=uniform(1,0)", "LOW (1) must be below HIGH (0)", "lr=uniform(LOW,HIGH)"),
        ("lr=uniform(0)", "uniform takes 2 numbers, not 1", "lr=uniform(LOW,HIGH)"),
        ("lr=uniform(a,1)", "'a' is not a number", "lr=uniform(LOW,HIGH)"),
        ("lr=loguniform(0,1)", "needs LOW above 0", "lr=loguniform(LOW,HIGH) with 0 < LOW < HIGH"),
        ("n=int(1,2.5)", "whole numbers", "n=int(LOW,HIGH) or int(LOW,HIGH,STEP)"),
        ("n=int(1,9,0)", "STEP must be 1 or more", "n=int(LOW,HIGH)"),
        ("n=int(1,2,3,4)", "int takes 2 or 3 numbers, not 4", "n=int(LOW,HIGH)"),
        ("a=choice()", "at least one value", "a=choice(V1,V2,...)"),
        ("a=choice(x,x)", "given twice", "a=choice(V1,V2,...)"),
        ("a=choice([1],2)", "is not a number, string", "a=choice(V1,V2,...)"),
        ("a=choice(1 2)", "not a Python literal", "a=choice(V1,V2,...)"),
    ],
)
def test_a_bad_distribution_shows_the_right_form_in_one_line(spec, problem, form):
    with pytest.raises(OptionError) as caught:
        parse_dimension(spec)
    message = str(caught.value)
    assert message.startswith(f"--search {spec}: ")
    assert problem in message and "; write --search " in message and form in message
    assert "\n" not in message


def test_a_parameter_searched_twice_is_a_mistake():
    with pytest.raises(OptionError, match="--search names lr twice"):
        parse_space(["lr=uniform(0,1)", "lr=choice(1,2)"])


def test_grid_values_exist_for_choices_and_integers_only():
    assert parse_dimension("n=int(2,8,3)").grid() == [2, 5, 8]
    assert parse_dimension("a=choice(x,y)").grid() == ["x", "y"]
    with pytest.raises(OptionError, match="--sampler grid: lr is uniform"):
        parse_dimension("lr=uniform(0,1)").grid()
