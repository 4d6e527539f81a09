"""`nnfast export --c`: the C99 header compiled with the system C compiler must compute what
`nnfast predict` computes, to 1e-6 in float32, for every activation and output."""
import shutil
import subprocess

import numpy as np
import pytest

import nnfast
from nnfast.export import to_c
from cli_helpers import call_nnfast, read_csv_floats, write_csv

C_FLAGS = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-O2"]


def c_compiler():
    """The system C compiler; CI has gcc, so a missing compiler fails the tests."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "no C compiler (cc or gcc) on PATH: the export tests need one"
    return compiler


def run_c(folder, headers, inputs):
    """Compile a program that includes each header (dict prefix-or-None -> path) and runs its
    inference on every row of inputs (dict prefix -> (rows, dtype)); return, per prefix, the
    returned classes and the outputs."""
    lines = ["#include <stdio.h>"]
    lines += [f'#include "{path}"' for path in headers.values()]
    lines.append("int main(void)\n{\n    int r, j, c;")
    for prefix, (rows, dtype) in inputs.items():
        t = "float" if dtype == "float32" else "double"
        p = f"{prefix}_" if prefix else ""
        P = f"{prefix.upper()}_" if prefix else "NNFAST_"
        cells = ", ".join(repr(float(v)) for v in np.asarray(rows).ravel())
        lines.append(f"    {{\n    static const {t} x[{rows.size}] = {{{cells}}};\n"
                     f"    {t} y[{P}N_OUTPUTS];\n"
                     f"    for (r = 0; r < {len(rows)}; r++) {{\n"
                     f"        c = {p}inference(x + r * {P}N_INPUTS, y);\n"
                     f'        printf("{prefix or "-"} %d", c);\n'
                     f"        for (j = 0; j < {P}N_OUTPUTS; j++)\n"
                     f"            printf(\" %.17g\", (double)y[j]);\n"
                     f'        printf("\\n");\n    }}\n    }}')
    lines.append("    return 0;\n}\n")
    (folder / "main.c").write_text("\n".join(lines))
    build = subprocess.run([c_compiler(), *C_FLAGS, "-I", str(folder), "-o",
                            str(folder / "main"), str(folder / "main.c"), "-lm"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    out = subprocess.run([str(folder / "main")], capture_output=True, text=True, check=True)
    results = {}
    for line in out.stdout.splitlines():
        name, cls, *values = line.split()
        key = None if name == "-" else name
        results.setdefault(key, ([], []))
        results[key][0].append(int(cls))
        results[key][1].append([float(v) for v in values])
    return {k: (np.array(c), np.array(v)) for k, (c, v) in results.items()}


def random_inputs(low, high, n=50, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=(n, len(low)))


def test_iris_float32_round_trip_against_predict(tmp_path, capsys):
    def nnfast_(*args):
        return call_nnfast(capsys, *args)

    model, header, new = tmp_path / "iris.npz", tmp_path / "iris.h", tmp_path / "new.csv"
    nnfast_("train", "iris", "--layers", "16,8", "--activation", "tanh", "--epochs", "30",
            "--standardize", "--dtype", "float32", "--quiet", "--out", model)
    nnfast_("export", model, "--c", header)
    X_iris = nnfast.data.load_iris()[0]
    X = random_inputs(X_iris.min(axis=0), X_iris.max(axis=0)).astype(np.float32)
    write_csv(new, ["sepal_length", "sepal_width", "petal_length", "petal_width"],
              [[repr(float(v)) for v in x] for x in X])
    _, P = read_csv_floats(nnfast_("predict", model, new, "--proba"))
    labels = nnfast_("predict", model, new).split()[1:]
    classes, outputs = run_c(tmp_path, {None: "iris.h"}, {None: (X, "float32")})[None]
    assert np.abs(outputs - P).max() <= 1e-6, np.abs(outputs - P).max()
    assert [["setosa", "versicolor", "virginica"][c] for c in classes] == labels
    assert len(set(labels)) > 1                # the random inputs reach several classes


def test_binary_and_regression_float32_round_trip(tmp_path, capsys):
    """One sigmoid output (moons), and a regression whose features and target are scaled:
    the header undoes the scaling as predict does."""
    def nnfast_(*args):
        return call_nnfast(capsys, *args)

    rng = np.random.default_rng(2)
    Xr = rng.uniform(-2, 2, size=(80, 3))
    write_csv(tmp_path / "r.csv", ["a", "b", "c", "y"],
              [[*x, 10 + 3 * x[0] - x[1] * x[2]] for x in Xr])
    for data, name in (("moons", "moons"), (tmp_path / "r.csv", "reg")):
        nnfast_("train", data, "--layers", "8", "--epochs", "20", "--dtype", "float32",
                "--standardize", "--quiet", "--out", tmp_path / f"{name}.npz")
        nnfast_("export", tmp_path / f"{name}.npz", "--c", tmp_path / f"{name}.h",
                "--prefix", name)
    X_moons = random_inputs([-1.5, -1.0], [2.5, 1.5], seed=3).astype(np.float32)
    X_reg = random_inputs([-2, -2, -2], [2, 2, 2], seed=4).astype(np.float32)
    np.save(tmp_path / "moons_new.npy", X_moons)
    np.save(tmp_path / "reg_new.npy", X_reg)
    results = run_c(tmp_path, {"moons": "moons.h", "reg": "reg.h"},
                    {"moons": (X_moons, "float32"), "reg": (X_reg, "float32")})
    _, P = read_csv_floats(nnfast_("predict", tmp_path / "moons.npz",
                                   tmp_path / "moons_new.npy", "--proba"))
    classes, outputs = results["moons"]
    assert np.abs(outputs[:, 0] - P[:, 1]).max() <= 1e-6
    assert (classes == (P[:, 1] >= 0.5)).all() and 0 < classes.sum() < len(classes)
    _, values = read_csv_floats(nnfast_("predict", tmp_path / "reg.npz",
                                        tmp_path / "reg_new.npy"))
    _, outputs = results["reg"]
    # float32 values of about 10: 1e-6 relative is a few units in the last place
    np.testing.assert_allclose(outputs[:, 0], values[:, 0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-12), ("float32", 1e-6)])
def test_every_activation_and_output(tmp_path, dtype, tolerance):
    """Networks with each hidden activation and each output, checked against model.forward;
    all in one program, which also shows that prefixed headers coexist."""
    models = {}
    for hidden in ("identity", "step", "sigmoid", "tanh", "relu"):
        models[f"h_{hidden}"] = nnfast.MLP([3, 5, 4, 2], activation=hidden, output="softmax",
                                           seed=7, dtype=dtype)
    for output in ("identity", "step", "sigmoid", "tanh", "relu", "softmax"):
        models[f"o_{output}"] = nnfast.MLP([3, 6, 3], activation="tanh", output=output,
                                           seed=8, dtype=dtype)
    models["single"] = nnfast.MLP([3, 1], output="sigmoid", seed=9, dtype=dtype)
    perceptron = nnfast.Perceptron(3, activation="step", dtype=dtype)
    perceptron.set_parameters([np.array([[1.0], [-2.0], [0.5]])], [np.array([0.25])])
    models["perceptron"] = perceptron
    X = random_inputs([-3, -3, -3], [3, 3, 3], n=40, seed=5).astype(dtype)
    headers = {}
    for name, model in models.items():
        model.save(tmp_path / f"{name}.npz")
        (tmp_path / f"{name}.h").write_text(to_c(nnfast.load(tmp_path / f"{name}.npz"), name))
        headers[name] = f"{name}.h"
    results = run_c(tmp_path, headers, {name: (X, dtype) for name in models})
    for name, model in models.items():
        classes, outputs = results[name]
        expected = model.forward(X)
        worst = np.abs(outputs - expected).max()
        assert worst <= tolerance, f"{name}: largest difference {worst:.3e}"
        if name.startswith("h_") or name == "o_softmax":
            assert (classes == expected.argmax(axis=1)).all(), name
    assert set(results["perceptron"][1][:, 0]) == {0.0, 1.0}
    assert (results["perceptron"][0] == model_predict(perceptron, X)).all()


def model_predict(model, X):
    return np.asarray(model.predict(X)).ravel()


def test_header_is_self_contained(tmp_path):
    model = nnfast.MLP([2, 3, 2], seed=1, dtype="float32")
    text = to_c(model)
    includes = [line for line in text.splitlines() if line.startswith("#include")]
    assert includes == ["#include <math.h>"]
    for word in ("malloc", "calloc", "free(", "static float", "printf"):
        assert word not in text
    assert "static inline int inference(const float *input, float *output)" in text
    # two models in one program need a prefix each
    assert "static inline int iris_inference(const float *input" in to_c(model, "iris")
    with pytest.raises(ValueError, match="cannot begin a C name"):
        to_c(model, "2fast")
