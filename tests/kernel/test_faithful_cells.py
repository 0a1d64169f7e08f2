"""A remote cell behaves as the same cell run locally: each case runs both ways in one real
kernel (setup and follow-up cells local), and the namespaces and outputs are compared."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from jupyter_client.manager import start_new_kernel

from kernel_helpers import Reply, execute

# (name, setup run locally, the cell under test, a local follow-up cell)
CASES = [
    ("append to an input", "lst = [1, 2]", "lst.append(3)", ""),
    ("del an item of an input", "lst = [1, 2]", "del lst[0]", ""),
    ("set an attribute", "class P: pass\np = P()\np.v = 1", "p.v = 9", "print(p.v)"),
    ("nested dict change", "cfg = {'a': {'b': 1}}", "cfg['a']['b'] = 2", ""),
    ("set add", "seen = {1}", "seen.add(2)", ""),
    ("bytearray extend", "buf = bytearray(b'ab')", "buf.extend(b'cd')", ""),
    ("numpy in place", "import numpy as np\narr = np.zeros(4)", "arr[1] = 7.0\narr *= 2", "print(arr.tolist())"),
    ("aliases see the change", "a = [1]\nb = a", "a.append(2)", "print(b, a is b)"),
    ("notebook function appends to a global", "log = []\ndef note(x):\n    log.append(x)", "note(5)", ""),
    ("notebook function rebinds a global", "n = 0\ndef bump():\n    global n\n    n += 1", "bump()\nbump()", ""),
    ("del nested in if", "x = 1", "if True:\n    del x", "print('x' in dir())"),
    ("del nested in a loop", "x = 1\ny = 2", "for name in ['x']:\n    del x", ""),
    (
        "global in a function of the cell",
        "counter = 0",
        "def step():\n    global counter\n    counter += 1\nstep()",
        "",
    ),
    ("class body reads the global it assigns", "k = 1", "class C:\n    k = k + 1\nkk = C.k", ""),
    (
        "suppressed with block",
        "k = 1",
        "import contextlib\nwith contextlib.suppress(ZeroDivisionError):\n    k = 1 / 0\nk2 = k",
        "",
    ),
    (
        "conditional assignment in with",
        "v = 'old'",
        "import contextlib\nwith contextlib.nullcontext():\n    if False:\n        v = 'new'\nw = v",
        "",
    ),
    ("with binds its target", "", "import contextlib\nwith contextlib.nullcontext(5) as five:\n    pass", ""),
    ("remote function sees later notebook values", "", "def get_k2():\n    return k2", "k2 = 6\nprint(get_k2())"),
    ("remote function writes a notebook global", "", "def set_g():\n    global g\n    g = 42", "set_g()\nprint(g)"),
    (
        "remote class method sees notebook values",
        "",
        "class K:\n    def get(self):\n        return k3",
        "k3 = 7\nprint(K().get())",
    ),
    ("star import", "", "from math import *", "print(pi, sqrt(4))"),
    ("recursion error keeps its type", "def r():\n    return r()", "r()", ""),
    ("value error keeps its type", "", "raise ValueError('boom')", ""),
    ("last output travels as _", "40 + 2", "y = _ + 1", ""),
    ("top-level await", "", "import asyncio\nawait asyncio.sleep(0)\nv = 5\nv", ""),
    ("display import keeps the notebook's display", "", "from IPython.display import display", "display('shown')"),
    ("display shows", "", "from IPython.display import display\ndisplay('hi')\nprint('after')", ""),
    ("semicolon inside a string", "", "'abc;#'", ""),
    ("trailing semicolon hides the value", "", "1 + 1;", ""),
    ("comment after the value", "", "3  # a comment; with a semicolon", ""),
    ("exec assigns", "", "exec('ex = 5')", ""),
    ("globals() assigns", "", "globals()['gg'] = 3", ""),
    ("augmented assignment", "n = 1", "n += 1", ""),
    ("walrus at top level", "", "(w := 5)", ""),
    ("comprehension reads a global", "k = 3", "vals = [i * k for i in range(3)]", ""),
    ("lambda reads a global", "k = 3", "f = lambda i: i * k", "k = 4\nprint(f(2))"),
    ("try and except assign", "", "try:\n    t = 1 / 0\nexcept ZeroDivisionError:\n    t = 'inf'", ""),
    ("assignment not taken", "", "if False:\n    never = 1", "print('never' in dir())"),
    ("loop variable stays", "", "for i in range(3):\n    pass", ""),
    ("del then assign again", "z = 1", "del z\nz = 2", ""),
    ("annotated assignment", "", "x: int = 3", ""),
    ("match statement binds", "", "match (1, 2):\n    case (first, second):\n        pass", ""),
    ("module-level global statement", "", "global zz\nzz = 1", ""),
    (
        "closure with nonlocal",
        "",
        "def outer():\n    x = 1\n    def inner():\n        nonlocal x\n        x += 1\n        return x\n"
        "    return inner\nfn = outer()",
        "print(fn(), fn())",
    ),
    ("generator function", "", "def gen(n):\n    yield from range(n)", "print(list(gen(3)))"),
    (
        "dataclass",
        "",
        "from dataclasses import dataclass\n@dataclass\nclass Pt:\n    x: int\n    y: int = 0",
        "print(Pt(1))",
    ),
    (
        "decorator from the notebook",
        "def twice(f):\n    return lambda *a: 2 * f(*a)",
        "@twice\ndef one():\n    return 1\nr1 = one()",
        "",
    ),
    ("stdout and stderr", "", "import sys\nprint('out')\nprint('err', file=sys.stderr)", ""),
    ("partial lines", "", "print('a', end='')\nprint('b')", ""),
    ("import binds a module", "", "import json", "print(json.dumps([1]))"),
    ("in-place change of an item in a list", "items = [{'n': 0}]", "items[0]['n'] = 1", ""),
    (
        "object method mutates itself",
        "class Box:\n    def __init__(self):\n        self.items = []\n"
        "    def add(self, v):\n        self.items.append(v)\nbox = Box()",
        "box.add(3)",
        "print(box.items)",
    ),
]

SNAPSHOT = r"""
def _cf_snapshot():
    import json, re, types
    def describe(v):
        if isinstance(v, types.FunctionType):
            return f"function {v.__name__}"
        if isinstance(v, type):
            return f"class {v.__name__}"
        if isinstance(v, types.ModuleType):
            return f"module {v.__name__}"
        if type(v).__module__ == "__main__" and hasattr(v, "__dict__"):
            return f"{type(v).__name__} {describe(vars(v))}"
        return re.sub(r" at 0x[0-9a-f]+", "", repr(v))
    names = get_ipython().run_line_magic("who_ls", "")
    return json.dumps({n: describe(globals()[n]) for n in names if not n.startswith("_cf")}, sort_keys=True)
print(_cf_snapshot())
del _cf_snapshot
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator:
    manager, client = start_new_kernel(kernel_name="cellfleet")
    execute(client, "%env CELLFLEET_STATUS=off")
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def _outputs(reply: Reply) -> tuple:
    errors = [(name, value.splitlines()[-1] if value else "") for name, value in reply.errors]
    return reply.streams, reply.results, errors


def _run_case(client, setup: str, cell: str, after: str, remote: bool) -> tuple:
    execute(client, "%reset -f")
    if setup:
        assert not execute(client, setup).errors
    body = execute(client, ("%%remote\n" if remote else "") + cell)
    follow = execute(client, after) if after else Reply()
    state = execute(client, SNAPSHOT)
    assert not state.errors, state.tracebacks
    return _outputs(body), _outputs(follow), json.loads(state.streams["stdout"])


@pytest.mark.parametrize(("setup", "cell", "after"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_remote_cell_behaves_as_the_local_one(kernel, setup, cell, after):
    local = _run_case(kernel, setup, cell, after, remote=False)
    remote = _run_case(kernel, setup, cell, after, remote=True)
    assert remote[2] == local[2], "the namespaces differ"
    assert remote[0] == local[0], "the cell's outputs differ"
    assert remote[1] == local[1], "the follow-up cell's outputs differ"


@pytest.mark.parametrize(
    ("cell", "named"),
    [
        ("Out[1]", "Out (the notebook's input/output history)"),
        ("In[1]", "In (the notebook's"),
        ("get_ipython()", "get_ipython()"),
    ],
)
def test_notebook_only_names_fail_in_one_line_that_says_what_is_unavailable(kernel, cell, named):
    execute(kernel, "%reset -f")
    execute(kernel, "x = 1")
    reply = execute(kernel, f"%%remote\n{cell}")
    ((name, value),) = reply.errors
    assert name == "NameError" and value.startswith(named) and "%%remote" in value and "\n" not in value
    assert "namespace.py" not in reply.tracebacks[0]  # the stand-in's own frame is not shown


def test_a_name_read_only_through_eval_is_explained(kernel):
    execute(kernel, "%reset -f")
    execute(kernel, "hidden = 1")
    reply = execute(kernel, "%%remote\nprint(eval('hidden'))")
    assert reply.errors[0][0] == "NameError"
    assert "'hidden' is defined in the notebook but was not sent" in reply.tracebacks[0]


def test_long_output_is_cut_with_a_note_saying_where(kernel):
    execute(kernel, "%reset -f")
    reply = execute(kernel, "%%remote\nfor i in range(1_000_000):\n    print('x' * 9)", timeout=300)
    assert not reply.errors
    shown = reply.streams["stdout"]
    assert 8 * 2**20 <= len(shown) < 10_000_000 and set(shown) == {"x", "\n"}
    note = reply.streams["stderr"]
    assert f"output cut here, after the first {len(shown):,} characters" in note
    assert f"the last {10_000_000 - len(shown):,} characters were not shown" in note


def test_no_internal_dask_warning_reaches_the_cell(kernel):
    execute(kernel, "%reset -f")
    execute(kernel, "blob = bytes(12 * 2**20)")  # over Dask's large-graph warning threshold
    reply = execute(kernel, "%%remote\nsize = len(blob)\nprint(size)", timeout=300)
    assert not reply.errors and reply.streams == {"stdout": f"{12 * 2**20}\n"}
