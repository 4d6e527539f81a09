"""int8 C export: the quantized model's Python twin (nnfast.export.quantize) and its C99 header
compute the same int32 sums and classes bit for bit; on digits the int8 model's accuracy is
within 1 point of the float model's; wrong calibration data gets a clear error."""
import shutil
import subprocess

import numpy as np
import pytest

import nnfast
from nnfast import vocabulary
from nnfast.data.builtin import digits
from nnfast.export import quantize
from nnfast.export.int8 import fixed_point, round_shift, round_to_int8
from cli_helpers import call_nnfast, run_nnfast

C_FLAGS = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-O2"]


def c_compiler():
    """The system C compiler; CI has gcc, so a missing compiler fails the tests."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "no C compiler (cc or gcc) on PATH: the int8 tests need one"
    return compiler


def run_c(folder, models, X):
    """Compile one program including each header (dict prefix -> header text) and run every
    model on the rows of X; return, per prefix, (classes, int32 sums, outputs)."""
    lines = ["#include <stdio.h>"]
    for prefix, text in models.items():
        (folder / f"{prefix}.h").write_text(text)
        lines.append(f'#include "{prefix}.h"')
    cells = ", ".join(f"{float(v)!r}f" for v in np.asarray(X, np.float32).ravel())
    lines += ["int main(void)", "{", "    int r, j, c;",
              f"    static const float x[{X.size}] = {{{cells}}};"]
    for prefix in models:
        P = prefix.upper()
        lines += [f"    for (r = 0; r < {len(X)}; r++) {{",
                  f"        int32_t acc[{P}_N_OUTPUTS];", f"        float y[{P}_N_OUTPUTS];",
                  f"        {prefix}_accumulators(x + r * {P}_N_INPUTS, acc);",
                  f"        c = {prefix}_inference(x + r * {P}_N_INPUTS, y);",
                  f'        printf("{prefix} %d", c);',
                  f'        for (j = 0; j < {P}_N_OUTPUTS; j++) printf(" %ld", (long)acc[j]);',
                  f'        for (j = 0; j < {P}_N_OUTPUTS; j++) printf(" %.9g", (double)y[j]);',
                  '        printf("\\n");', "    }"]
    lines += ["    return 0;", "}", ""]
    (folder / "main.c").write_text("\n".join(lines))
    build = subprocess.run([c_compiler(), *C_FLAGS, "-I", str(folder), "-o",
                            str(folder / "main"), str(folder / "main.c"), "-lm"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    printed = subprocess.run([str(folder / "main")], capture_output=True, text=True,
                             check=True).stdout
    rows = {}
    for line in printed.splitlines():
        prefix, c, *values = line.split()
        rows.setdefault(prefix, []).append((int(c), values))
    results = {}
    for prefix, found in rows.items():
        K = len(found[0][1]) // 2
        results[prefix] = (np.array([c for c, _ in found]),
                           np.array([[int(v) for v in values[:K]] for _, values in found]),
                           np.array([[float(v) for v in values[K:]] for _, values in found]))
    return results


def assert_twin_matches(name, quantized, X, c_result):
    """The C header's classes and int32 sums equal the twin's exactly; its float outputs to
    1e-6 (libm's exp and tanh against NumPy's)."""
    classes, sums, outputs = c_result
    twin_sums = quantized.accumulators(X)
    assert np.array_equal(sums, twin_sums), \
        f"{name}: int32 sums differ at {np.argwhere(sums != twin_sums)[:5].tolist()}"
    assert np.array_equal(classes, quantized.predict(X)), name
    expected = quantized.forward(X)
    error = np.abs(outputs - expected) / np.maximum(1.0, np.abs(expected))
    assert error.max() <= 1e-6, f"{name}: largest output difference {error.max():.3g}"


# ---- the arithmetic, by hand ------------------------------------------------------------------

def test_rounding_and_fixed_point_by_hand():
    # half away from zero; beyond [-127, 127] (and NaN) clamped
    v = np.array([0.4, 0.5, -0.5, -1.49, 126.6, 300.0, -1e30, np.nan], dtype=np.float32)
    assert round_to_int8(v).tolist() == [0, 1, -1, -1, 127, 127, -127, -127]
    # M = 0.375 = 0.75 * 2^-1: m = 0.75 * 2^31 = 1610612736, shift = 31 + 1 = 32
    m, shift = fixed_point([0.375])
    assert (m[0], shift[0]) == (1610612736, 32)
    # acc 100 * 0.375 = 37.5 -> 38, and -37.5 -> -38 (half away from zero on the magnitude)
    p = np.array([100, -100], dtype=np.int64) * m[0]
    assert round_shift(p, shift[0]).tolist() == [38, -38]
    # a multiplier below 2^-31 keeps shift 62: every product of int32 sums rounds to 0
    m, shift = fixed_point([2.0**-40])
    assert shift[0] == 62 and round_shift(np.int64(2**31 - 1) * m[0], shift[0]) == 0


def test_a_tiny_network_by_hand():
    # one input, one relu unit, one identity output; calibration data x in {-2, 4}
    model = nnfast.MLP([1, 1, 1], "relu", output="identity")
    model.set_parameters([[[0.5]], [[2.0]]], [[0.25], [-1.0]])
    q = quantize(model, [[-2.0], [4.0]])
    # input scale s0 = 4 / 127; x = 4 -> q0 = 127
    # layer 0: w = 0.5 -> scale 0.5/127, Wq = 127; b = 0.25 / (s0 * 0.5/127) = 0.25 * 127^2 / 2
    #          = 2016.125 -> 2016; z = 0.5 x + 0.25 in [-0.75, 2.25]: s_z = 2.25 / 127
    assert q.layers[0].weights.tolist() == [[127]] and q.layers[0].biases.tolist() == [2016]
    # x = 4: acc = 2016 + 127 * 127 = 18145; M = s0 * w / s_z = (4/127)(0.5/127)/(2.25/127)
    #        = 2 / (2.25 * 127); qz = round(18145 * 2 / 285.75) = round(127.0) = 127
    # relu table: s_a = s_z, table[127] = 127; output: Wq = 127, scale (2.25/127)(2/127),
    # b = -1 / ((2.25/127)(2/127)) = -3584.2 -> -3584; acc = -3584 + 127 * 127 = 12545
    assert q.accumulators([[4.0]]).tolist() == [[12545]]
    # z = 12545 * 4.5 / 127^2 = 3.50012... (float: 0.5 * 4 + 0.25 = 2.25 -> relu -> 2 * 2.25 - 1
    #   = 3.5)
    assert abs(float(q.forward([[4.0]])[0, 0]) - 3.5) < 1e-3


# ---- the header against its twin --------------------------------------------------------------

def models_of_every_kind():
    """Small models of every hidden activation and output, float32 and float64, some with a
    stored standardization and target scaling, and a Perceptron."""
    rng = np.random.default_rng(0)
    models = {}
    for i, (activation, output) in enumerate(
            (a, o) for a in vocabulary.HIDDEN_ACTIVATIONS for o in vocabulary.OUTPUT_ACTIVATIONS):
        loss = vocabulary.DEFAULT_LOSS.get(output, "mse")
        model = nnfast.MLP([5, 9, 6, 3 if output != "sigmoid" or i % 2 else 1], activation,
                           output=output, loss=loss, dtype=("float32", "float64")[i % 2],
                           seed=i)
        if i % 3 == 0:
            model.preprocessing = {"standardize": {"mean": rng.normal(size=5).tolist(),
                                                   "std": rng.uniform(0.5, 3, 5).tolist()}}
        if loss == "mse" and i % 2:
            model.preprocessing = dict(model.preprocessing or {},
                                       target_scale={"mean": 10.0, "std": 4.0})
        models[f"m{i}_{activation}_{output}"] = model
    models["perceptron"] = nnfast.Perceptron(5, 1, "step", init="glorot", seed=7)
    return models


def test_every_activation_and_output_bit_for_bit_in_c(tmp_path):
    X = np.random.default_rng(1).normal(0.5, 2.0, size=(60, 5))
    X[0] = [1e30, -1e30, 0.0, 1e-30, -3.0]  # clamped at the input
    models = models_of_every_kind()
    quantized = {name: quantize(model, X[1:]) for name, model in models.items()}
    results = run_c(tmp_path, {name: q.to_c(name) for name, q in quantized.items()}, X)
    for name, q in quantized.items():
        assert_twin_matches(name, q, X.astype(np.float32), results[name])


def test_digits_int8_within_one_point_of_float(tmp_path):
    table = digits()
    order = np.random.default_rng(0).permutation(len(table.X))
    train, test = order[:1200], order[1200:]
    model = nnfast.MLP([64, 32, 10], "relu", seed=0)
    mean, std = table.X[train].mean(axis=0), table.X[train].std(axis=0)
    std[std == 0] = 1.0
    model.preprocessing = {"standardize": {"mean": mean.tolist(), "std": std.tolist()}}
    model.fit((table.X[train] - mean) / std, table.y[train], epochs=30, optimizer="adam",
              lr=0.01, batch_size=32, shuffle=True)
    quantized = quantize(model, table.X[train])
    X, y = table.X[test], table.y[test]
    float_accuracy = np.mean(model.predict((X - mean) / std) == y)
    int8_accuracy = np.mean(quantized.predict(X) == y)
    assert float_accuracy > 0.9
    assert int8_accuracy >= float_accuracy - 0.01, (int8_accuracy, float_accuracy)
    result = run_c(tmp_path, {"digits": quantized.to_c("digits")}, X[:200])
    assert_twin_matches("digits", quantized, X[:200], result["digits"])


def test_cli_int8_prints_size_and_accuracy(tmp_path, capsys):
    model, header = tmp_path / "digits.npz", tmp_path / "digits_int8.h"
    call_nnfast(capsys, "train", "digits", "--layers", "32", "--activation", "relu",
                "--epochs", "15", "--standardize", "--quiet", "--out", model)
    printed = call_nnfast(capsys, "export", model, "--c", header, "--int8",
                          "--calibrate", "digits").splitlines()
    assert printed[0].startswith(f"wrote {header} (") and "bytes" in printed[0]
    assert printed[1].startswith("accuracy on digits (1797 samples): int8 0.9")
    int8_accuracy, float_accuracy = (float(w.rstrip(",")) for w in printed[1].split()[-3::2])
    assert int8_accuracy >= float_accuracy - 0.01
    assert "the int8 model agrees with the float model on" in printed[2]
    text = header.read_text()
    assert "int8_t" in text and "malloc" not in text
    assert text == quantize(nnfast.load(model), digits().X).to_c(None, "digits.npz")


def test_cli_int8_regression_prints_r2(tmp_path, capsys):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3))
    data = tmp_path / "data.npy"
    np.save(data, np.column_stack([X, X @ [1.0, -2.0, 0.5] + 0.3 * np.tanh(X[:, 0])]))
    model = tmp_path / "reg.npz"
    call_nnfast(capsys, "train", data, "--task", "regression", "--layers", "8",
                "--activation", "tanh", "--epochs", "40", "--standardize", "--quiet",
                "--out", model)
    printed = call_nnfast(capsys, "export", model, "--c", tmp_path / "reg.h", "--int8",
                          "--calibrate", data).splitlines()
    assert printed[1].startswith(f"R^2 on {data} (300 samples): int8 0.9"), printed
    assert printed[2].startswith("R^2 of the int8 outputs against the float model's: 0.9")


# ---- bad input --------------------------------------------------------------------------------

def test_calibration_data_must_fit_the_model():
    model = nnfast.MLP([4, 3, 2], "relu")
    with pytest.raises(ValueError, match="has 5 columns; the model takes 4 inputs"):
        quantize(model, np.zeros((10, 5)))
    with pytest.raises(ValueError, match="non-empty matrix"):
        quantize(model, np.zeros((0, 4)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        quantize(model, np.full((3, 4), np.nan))


def test_a_bias_beyond_the_int32_sums_is_refused():
    model = nnfast.MLP([2, 1], output="identity")
    model.set_parameters([[[1e-9], [1e-9]]], [[1e9]])
    with pytest.raises(ValueError, match="layer 0: a bias of 1e\\+09 .* does not fit the int32"):
        quantize(model, np.ones((3, 2)))


@pytest.mark.parametrize("args, message", [
    (["--c", "m.h", "--int8", "--calibrate", "iris"],
     "iris has 4 feature columns; the model expects 64 inputs"),
    (["--c", "m.h", "--int8"], "--int8 needs --calibrate DATA"),
    (["--c", "m.h", "--calibrate", "digits"], "--int8 needs --calibrate DATA"),
    (["--onnx", "m.onnx", "--int8", "--calibrate", "digits"], "--int8 quantizes the C header"),
    ([], "nothing to write: give --c HEADER or --onnx FILE"),
])
def test_cli_errors(tmp_path, args, message):
    model = nnfast.MLP([64, 10], "relu")
    model.save(tmp_path / "m.npz")
    result = run_nnfast("export", tmp_path / "m.npz", *args, cwd=tmp_path, check=2)
    assert message in result.stderr, result.stderr
