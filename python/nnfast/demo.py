"""`nnfast demo`: the seeds' own examples, on the native core and the reference side by side.

Each example runs once on nnfast (the C core) and once on nnfast.reference (pure Python),
prints what the models computed and the time each took. Needs no network and no files.
"""
import itertools
import time

import numpy as np

import nnfast
from nnfast import reference
from nnfast.data import load_iris, logic_gate, standardize, train_test_split


def timed(fn):
    """(result, seconds) of fn()."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def report_times(native_s, reference_s, out):
    ratio = reference_s / max(native_s, 1e-9)
    faster = (f"native {ratio:.0f}x faster" if ratio >= 1.5 else
              "about the same" if ratio > 1 / 1.5 else
              f"reference {1 / ratio:.1f}x faster: so little work that the native call's "
              "fixed cost dominates")
    out(f"  time: native {native_s * 1e3:.2f} ms, reference {reference_s * 1e3:.2f} ms "
        f"({faster})")


def cinema(out):
    """Seed 000: will persons A and B go to the cinema? z = w . x + b, go when z >= 0."""
    out("1. The cinema neuron (seed 000): inputs friends, near, cool weather; b = -5")
    people = {"A": [5, 3, 1], "B": [2, 3, 3]}
    X = np.array(list(itertools.product([0, 1], repeat=3)), dtype=np.float64)
    native, t_native = timed(lambda: {p: nnfast.Neuron(w, -5.0).forward(X)
                                      for p, w in people.items()})
    ref, t_ref = timed(lambda: {p: reference.Neuron(w, -5.0).forward(X.tolist())
                                for p, w in people.items()})
    out("  friends near cool | A (w=5,3,1) | B (w=2,3,3)")
    for i, x in enumerate(X.astype(int)):
        cells = ["goes" if native[p][i] else "  - " for p in people]
        out(f"     {x[0]}      {x[1]}    {x[2]}  |     {cells[0]}     |     {cells[1]}")
    agree = all(list(native[p]) == ref[p] for p in people)
    out("  A goes exactly when friends come (5 >= 5); B goes when any two of friends, near, "
        f"cool hold (2 + 3 or 3 + 3 >= 5); reference agrees: {agree}")
    report_times(t_native, t_ref, out)


def and_gate(out):
    """Seed 000's code: sigmoid neuron, cross-entropy, weights from zero, 10,000 iterations."""
    out("2. The AND gate by gradient descent (seed 000): sigmoid + cross-entropy, w = b = 0,")
    out("   10,000 full-batch iterations, lr = 1")
    X, y = logic_gate("and")
    fit = dict(epochs=10_000, lr=1.0)
    model, t_native = timed(lambda: nnfast.Perceptron(2, activation="sigmoid").fit(X, y, **fit))
    ref, t_ref = timed(lambda: reference.Perceptron(2, activation="sigmoid")
                       .fit(X.tolist(), y.tolist(), **fit))
    w, b = model.weights[0][:, 0], model.biases[0][0]
    out(f"  w = [{w[0]:.4f}, {w[1]:.4f}], b = {b:.4f}   (reference: "
        f"[{ref.weights[0][0][0]:.4f}, {ref.weights[0][1][0]:.4f}], {ref.biases[0][0]:.4f})")
    a = model.forward(X)[:, 0]
    out("  x1 x2 | a = sigmoid(w.x + b) | prediction")
    for x, ai, p in zip(X.astype(int), a, model.predict(X)):
        out(f"   {x[0]}  {x[1]} |       {ai:.4f}         |     {p}")
    report_times(t_native, t_ref, out)


def perceptron_rule(out):
    """Seed 002: the perceptron rule learns AND and OR, and cannot learn XOR."""
    out("3. The perceptron rule (seed 002): w += lr (y - y_hat) x, b += lr (y - y_hat)")
    for gate in ("and", "or", "xor"):
        X, y = logic_gate(gate)
        model, t_native = timed(lambda: nnfast.Perceptron(2).fit(X, y, epochs=100))
        ref, t_ref = timed(lambda: reference.Perceptron(2).fit(X.tolist(), y.tolist(),
                                                               epochs=100))
        errors = model.errors_
        learned = errors[-1] == 0
        w, b = model.weights[0][:, 0], model.biases[0][0]
        verdict = (f"learned in {len(errors)} epochs: w = {w.tolist()}, b = {b:g}, "
                   f"predictions {model.predict(X).tolist()}" if learned else
                   f"not learned: still {errors[-1]} mistakes after {len(errors)} epochs")
        out(f"  {gate.upper():3s} {verdict}; reference agrees: {errors == ref.errors_}")
        report_times(t_native, t_ref, out)
    out("  XOR is not linearly separable: no line w.x + b = 0 puts (0,1), (1,0) on one side")
    out("  and (0,0), (1,1) on the other, so a single-layer perceptron cannot learn it.")


def xor_solved(out):
    """XOR by a hidden layer (seed 003's MLP) and by RBF features (seed 000's remedy)."""
    out("4. XOR solved two ways")
    X, y = logic_gate("xor")
    fit = dict(epochs=2000, lr=0.5, shuffle=False)
    model, t_native = timed(lambda: nnfast.MLP([2, 4, 1], activation="tanh", seed=1)
                            .fit(X, y, **fit))
    ref, t_ref = timed(lambda: reference.MLP([2, 4, 1], activation="tanh", seed=1)
                       .fit(X.tolist(), y.tolist(), **fit))
    same = np.allclose(model.forward(X), ref.forward(X.tolist()), rtol=1e-9, atol=0)
    out(f"  a 2-4-1 MLP (tanh hidden, sigmoid output), 2000 epochs: outputs "
        f"{np.round(model.forward(X)[:, 0], 3).tolist()}, predictions {model.predict(X).tolist()}; "
        f"reference agrees to 1e-9: {same}")
    report_times(t_native, t_ref, out)
    centers, gamma = [[0, 1], [1, 0]], 1.0
    phi = nnfast.features.rbf(X, centers, gamma)
    rbf = nnfast.Perceptron(2).fit(phi, y, epochs=100)
    out(f"  a perceptron on RBF features exp(-||x - c||^2), c = (0,1), (1,0): learned in "
        f"{len(rbf.errors_)} epochs, predictions {rbf.predict(phi).tolist()}")


def iris(out):
    """An MLP on Fisher's Iris data: 4 -> 16 tanh -> 3 softmax."""
    out("5. Iris (Fisher's 150 flowers): MLP 4 -> 16 tanh -> 3 softmax, 70/30 split,")
    out("   sgd lr 0.1, batch 16, 200 epochs")
    X, y, _, classes = load_iris()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.3, seed=0)
    X_train, X_test = standardize(X_train, X_test)
    fit = dict(epochs=200, batch_size=16, lr=0.1)
    model, t_native = timed(lambda: nnfast.MLP([4, 16, 3], activation="tanh")
                            .fit(X_train, y_train, **fit))
    ref, t_ref = timed(lambda: reference.MLP([4, 16, 3], activation="tanh")
                       .fit(X_train.tolist(), y_train.tolist(), **fit))
    accuracy = float((model.predict(X_test) == y_test).mean())
    ref_accuracy = float(np.mean(np.array(ref.predict(X_test.tolist())) == y_test))
    out(f"  test accuracy {accuracy:.3f} on {len(y_test)} flowers (reference {ref_accuracy:.3f}); "
        f"final training loss {model.loss_curve_[-1]:.4f} (reference {ref.loss_curve_[-1]:.4f})")
    report_times(t_native, t_ref, out)


EXAMPLES = [cinema, and_gate, perceptron_rule, xor_solved, iris]


def run(out=print):
    out(f"nnfast {nnfast.__version__} demo: the seeds' examples, native core vs pure-Python "
        f"reference ({nnfast.get_num_threads()} threads)\n")
    for example in EXAMPLES:
        example(out)
        out("")
