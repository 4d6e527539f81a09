"""Seed 002: the perceptron rule. For each sample in turn, y_hat = step(w . x + b), then
w += lr (y - y_hat) x and b += lr (y - y_hat). It finds a separating line when there is one:
AND and OR are learned in a few epochs; XOR has none, so mistakes never stop.
"""
import nnfast
from nnfast.data import logic_gate

for gate in ("and", "or", "xor"):
    X, y = logic_gate(gate)
    model = nnfast.Perceptron(2).fit(X, y, epochs=100)
    w, b = model.weights[0][:, 0], model.biases[0][0]
    learned = model.errors_[-1] == 0
    print(f"{gate.upper():3}: {'learned' if learned else 'not learned'} after "
          f"{len(model.errors_)} epochs, mistakes per epoch {model.errors_[:6]}"
          f"{' ...' if len(model.errors_) > 6 else ''}; w = {w.tolist()}, b = {b}; "
          f"predictions {model.predict(X).tolist()} for targets {y.tolist()}")
