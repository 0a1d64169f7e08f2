"""Published datasets on the warm shared cluster: real kernels (jupyter_client), the real
`cellfleet cluster` command, in a project folder of this test's own; a result published in one
kernel outlives its restart, and another kernel attaches it without the worker loading it again."""

from __future__ import annotations

from test_shared_cluster import Kernel, kernels  # noqa: F401  (the kernels fixture)

from shared_helpers import project_fixture  # noqa: F401  (the project fixture)

LOADER = """\
LOADS = 0


class Model:
    def __init__(self):
        self.weights = list(range(1000))


def load():
    global LOADS
    LOADS += 1
    return Model()
"""
"""A module the workers import from the project folder: it counts the models it loads."""

PUBLISH = "%%remote --publish model\nimport loader\nmodel = loader.load()\nmodel_id = id(model)"
READ = "%%remote\nimport loader\nloads, same = loader.LOADS, id(model) == model_id\ntotal = sum(model.weights)"


def _usage(reply) -> str:
    """The one-line UsageError a magic printed."""
    lines = [line for line in reply.streams.get("stderr", "").splitlines() if line.startswith("UsageError")]
    assert len(lines) == 1 and "Traceback" not in reply.text, reply.text
    return lines[0]


def test_a_published_model_outlives_its_kernel_and_stays_loaded(project, kernels):  # noqa: F811
    (project.root / "loader.py").write_text(LOADER)
    record = project.start("--gpus", "0", "--workers", "1")
    a = Kernel(project.root)
    kernels.append(a)
    published = a.run(PUBLISH)
    assert published.errors == [], published.text
    assert "published model: %attach model" in published.text and "private" not in published.text
    model_id = int(a.run("print(model_id)").streams["stdout"])
    assert "<remote model: loader.Model" in a.run("model").text

    a.manager.restart_kernel(now=True)  # the kernel's client goes; the scheduler keeps the dataset
    a.client.wait_for_ready(timeout=120)
    b = Kernel(project.root)
    kernels.append(b)
    for kernel in (a, b):
        attached = kernel.run(f"%attach model\nmodel_id = {model_id}")
        assert attached.errors == [] and "attached model: loader.Model" in attached.text, attached.text
        read = kernel.run(READ)
        assert read.errors == [], read.text
        said = kernel.run("print(loads, same, total)").streams["stdout"].split()
        assert said == ["1", "True", str(sum(range(1000)))]  # loaded once, the very object, used in place

    table = b.run("%cellfleet datasets").streams["stdout"]
    assert f"published on {record.address}" in table
    (row,) = [line.split() for line in table.splitlines() if line.strip().startswith("model ")]
    assert row[:2] == ["model", "loader.Model"] and row[2].isdigit() and row[4].startswith("tcp://"), table

    replaced = b.run(PUBLISH)
    assert "replaced the model published before" in replaced.text, replaced.text
    assert "unpublished model" in b.run("%unpublish model").text
    assert "no published datasets" in a.run("%cellfleet datasets").text
    gone = _usage(a.run("%attach model"))
    assert "nothing is published as model" in gone and "(published: none)" in gone


def test_publishing_mistakes_are_one_line_errors(project, kernels):  # noqa: F811
    kernel = Kernel(project.root)
    kernels.append(kernel)
    assert "no shared cluster runs, so nothing is published" in _usage(kernel.run("%cellfleet datasets"))
    assert "no shared cluster runs, so nothing is published" in _usage(kernel.run("%attach model"))
    assert "takes the names of published results" in _usage(kernel.run("%attach 1x"))
    assert "takes the names of published results" in _usage(kernel.run("%unpublish"))
    assert "variable names separated by commas" in _usage(kernel.run("%%remote --publish 1x\nx = 1"))
    unassigned = _usage(kernel.run("%%remote --publish y\nx = 1"))
    assert "--publish names y, which the cell does not assign" in unassigned
    fans = _usage(kernel.run("%%remote --publish x --grid a=1,2\nx = a"))
    assert "--publish goes with a single cell" in fans

    private = kernel.run("%%remote --publish x\nx = 41\nimport cellfleet\ncellfleet.publish(y=x + 1)")
    assert private.errors == [], private.text
    assert "lasts only as long as this kernel: cellfleet cluster start" in private.streams.get("stderr", "")
    attached = kernel.run("del x\n%attach x y\nprint(x.pull() + y.pull())")
    assert attached.errors == [] and attached.streams["stdout"].strip().endswith("83"), attached.text
    unknown = _usage(kernel.run("%unpublish z"))
    assert "nothing is published as z" in unknown and "(published: x, y)" in unknown
    assert "unpublished x, y" in kernel.run("%unpublish all").text
