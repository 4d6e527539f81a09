"""Seed 000's code: the AND gate learned by one sigmoid neuron with cross-entropy loss,
full-batch gradient descent from w = b = 0, 10,000 iterations, learning rate 1.

The seed's loop, per iteration: z = w1 x1 + w2 x2 + b, a = sigmoid(z),
dz = a - y, dw = mean(dz * x), db = mean(dz), w -= lr dw, b -= lr db.
"""
import math

import nnfast
from nnfast.data import logic_gate

X, y = logic_gate("and")
model = nnfast.Perceptron(2, activation="sigmoid").fit(X, y, epochs=10_000, lr=1.0)
w, b = model.weights[0][:, 0], model.biases[0][0]

# The seed's own loop in plain Python, to show the library computes the same thing.
w1 = w2 = bias = 0.0
for _ in range(10_000):
    dw1 = dw2 = db = 0.0
    for (x1, x2), target in zip(X, y):
        a = 1 / (1 + math.exp(-(w1 * x1 + w2 * x2 + bias)))
        dz = a - target
        dw1, dw2, db = dw1 + dz * x1, dw2 + dz * x2, db + dz
    w1, w2, bias = w1 - dw1 / 4, w2 - dw2 / 4, bias - db / 4

print(f"nnfast:      w = [{w[0]:.4f}, {w[1]:.4f}], b = {b:.4f}")
print(f"seed's loop: w = [{w1:.4f}, {w2:.4f}], b = {bias:.4f}")
print("predictions:", model.predict(X).tolist(), "targets:", y.tolist())
print(f"final loss {model.loss_curve_[-1]:.5f}")
print("same weights:", max(abs(w[0] - w1), abs(w[1] - w2), abs(b - bias)) < 1e-9)
