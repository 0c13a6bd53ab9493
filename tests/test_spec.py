"""Graph spec files: every shipped spec loads; malformed specs name the file and field."""

import numpy as np
import pytest

from pgboltz import SpecError
from pgboltz.graph.spec import load_spec
from pgboltz.specs import example_names, resolve

from .conftest import GRAPHS


def write(tmp_path, text, name="g.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


HEAD = """
name = "t"
[[groups]]
name = "v"
shape = [4]
role = "visible"
[[groups]]
name = "h"
shape = [3]
"""


def test_every_shipped_spec_loads_and_is_documented():
    readme = (GRAPHS / "README.md").read_text()
    specs = sorted(GRAPHS.glob("*.toml"))
    assert len(specs) >= 5
    for p in specs:
        g = load_spec(p)
        assert g.n_units() > 0 and g.factors
        assert p.name in readme, f"{p.name} is not described in graphs/README.md"
    assert set(example_names()) == {p.stem for p in specs}
    assert resolve("rbm-small").name == "rbm-small.toml"


def test_spec_parameters_are_reproducible_and_well_formed():
    a, b = load_spec(GRAPHS / "bm-small.toml"), load_spec(GRAPHS / "bm-small.toml")
    for fa, fb in zip(a.factors, b.factors):
        for k in fa.params:
            assert np.array_equal(fa.params[k], fb.params[k])
    L = a.factors[0].params["W"]
    assert np.allclose(L, L.T) and np.all(np.diag(L) == 0) and np.any(L != 0)


def test_open_lattice_init_masks_missing_bonds(tmp_path):
    p = write(tmp_path, """
[[groups]]
name = "s"
shape = [3, 4]
units = "spin"
[[factors]]
kind = "lattice"
group = "s"
periodic = false
init = { dist = "normal", std = 1.0 }
""")
    f = load_spec(p).factors[0]
    assert np.all(f.params["J_right"][:, -1] == 0) and np.all(f.params["J_down"][-1] == 0)
    assert f.n_parameters() == 3 * 3 + 2 * 4


def test_parameters_from_npz_and_edges_from_a_file(tmp_path):
    W = np.arange(12.0).reshape(4, 3) / 10
    np.savez(tmp_path / "p.npz", W=W, b=np.ones(4))
    (tmp_path / "edges.txt").write_text("# i j\n0 1\n1 2\n2 3\n")
    p = write(tmp_path, HEAD + """
[[factors]]
kind = "dense"
groups = ["v", "h"]
file = "p.npz"
key = "W"
[[factors]]
kind = "sparse"
groups = ["v", "v"]
edges_file = "edges.txt"
value = [0.5, -0.5, 0.25]
[[factors]]
kind = "bias"
group = "v"
file = "p.npz"
keys = { b = "b" }
""")
    g = load_spec(p)
    assert np.array_equal(g.factors[0].params["W"], W)
    assert g.factors[1].edges.tolist() == [[0, 1], [1, 2], [2, 3]]
    assert np.array_equal(g.factors[2].params["b"], np.ones(4))


BAD = [
    ("[[groups]]\nname = \"v\"\n", r"groups\[0\].shape: missing"),
    ("[[groups]]\nname = \"v\"\nshap = [3]\nshape = [3]\n", r"groups\[0\]: unknown field\(s\) 'shap'"),
    ("[[groups]]\nname = \"v\"\nshape = [3]\nunits = \"gauss\"\n", r"groups\[0\]: group 'v': unknown unit type"),
    (HEAD + "[[factors]]\nkind = \"dense\"\ngroups = [\"v\", \"x\"]\nvalue = 0.0\n",
     r"factors\[0\].groups: unknown group 'x'; known groups: v, h"),
    (HEAD + "[[factors]]\nkind = \"conv3d\"\ngroup = \"v\"\n", r"factors\[0\].kind: unknown factor kind 'conv3d'"),
    (HEAD + "[[factors]]\nkind = \"bias\"\ngroup = \"v\"\n", r"factors\[0\]: give exactly one of `init`"),
    (HEAD + "[[factors]]\nkind = \"bias\"\ngroup = \"v\"\ninit = { dist = \"cauchy\" }\n",
     r"factors\[0\].init.dist: expected one of normal, uniform, constant"),
    (HEAD + "[[factors]]\nkind = \"bias\"\ngroup = \"v\"\nvalue = [1, 2]\n",
     r"factors\[0\].value: parameter 'b' needs shape \[4\], got \[2\]"),
    (HEAD + "[[factors]]\nkind = \"bias\"\ngroup = \"v\"\nvalue = [1, 2, nan, 4]\n", r"factors\[0\]: .*contains NaN"),
    (HEAD + "[[factors]]\nkind = \"sparse\"\ngroups = [\"v\", \"v\"]\nedges = [[0, 0]]\nvalue = 1.0\n",
     r"factors\[0\]: .*self-loop"),
    (HEAD + "[[factors]]\nkind = \"sparse\"\ngroups = [\"v\", \"v\"]\nedges = [[0, 9]]\nvalue = 1.0\n",
     r"factors\[0\]: .*outside group 'v'"),
    (HEAD + "[[factors]]\nkind = \"dense\"\ngroups = [\"v\", \"h\"]\nfile = \"missing.npz\"\nkey = \"W\"\n",
     r"factors\[0\].file: no such file"),
    (HEAD + "[[factors]]\nkind = \"lattice\"\ngroup = \"v\"\nvalue = 1.0\n", r"factors\[0\].group: a lattice needs a 2-D group"),
    ("name = \"x\"\nseed = \"zero\"\n[[groups]]\nname = \"v\"\nshape = [2]\n", "seed: expected an integer"),
    ("this is not toml", "not valid TOML"),
    ("name = \"x\"\n", "groups: expected at least one"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[m[:30] for _, m in BAD])
def test_malformed_specs_name_the_file_and_field(tmp_path, text, message):
    p = write(tmp_path, text, "broken.toml")
    with pytest.raises(SpecError, match=message) as info:
        load_spec(p)
    assert str(info.value).startswith(str(p) + ": ")


def test_bad_npz_contents(tmp_path):
    np.savez(tmp_path / "p.npz", W=np.zeros((2, 2)))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    for body, message in [
        ('file = "p.npz"\nkey = "V"', r"array 'V' not in .*it has W"),
        ('file = "p.npz"\nkey = "W"', r"array 'W' has shape \[2, 2\], parameter 'W' needs \[4, 3\]"),
        ('file = "junk.npz"\nkey = "W"', "cannot read .* as .npz"),
        ('file = "p.npz"', "name the array"),
    ]:
        p = write(tmp_path, HEAD + f'[[factors]]\nkind = "dense"\ngroups = ["v", "h"]\n{body}\n')
        with pytest.raises(SpecError, match=message):
            load_spec(p)


def test_missing_spec_and_unknown_example():
    with pytest.raises(SpecError, match="no such graph spec file"):
        resolve("nowhere/x.toml")
    with pytest.raises(SpecError, match="neither a spec file nor an example; examples: bm-small"):
        resolve("no-such-example")


def test_installed_wheel_ships_the_examples(tmp_path):
    """Build the wheel and check the examples are inside and found from any folder."""
    import subprocess
    import sys
    import zipfile

    from .conftest import REPO

    pytest.importorskip("setuptools")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path), str(REPO)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    wheel = next(tmp_path.glob("pgboltz-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for spec in GRAPHS.glob("*.toml"):
        assert f"pgboltz/examples/{spec.name}" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "import pgboltz.specs as s; print(len(s.example_names()), s.resolve('rbm-small'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(site), "PATH": ""})
    assert out.returncode == 0, out.stderr
    count, path = out.stdout.split()
    assert int(count) == len(list(GRAPHS.glob("*.toml"))) and path.startswith(str(site))
