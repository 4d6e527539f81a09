"""Seed 001: the gradient of the cost by the chain rule, checked numerically.

A sigmoid neuron with the mean squared error C = mean_i (y_hat_i - y_i)^2, y_hat = sigmoid(z),
z = x . w + b. By the chain rule

    dC/dw = mean_i dC/dy_hat * dy_hat/dz * dz/dw
          = mean_i 2 (y_hat_i - y_i) * y_hat_i (1 - y_hat_i) * x_i

and dC/db the same with x_i replaced by 1 (the bias as a weight on a constant input).
The script computes this by hand, asks nnfast for its backprop gradients, and compares both
with central differences (C(w + h) - C(w - h)) / 2h. Then it does the same check for every
weight of a two-layer network.
"""
import numpy as np

import nnfast

rng = np.random.default_rng(1)
X = rng.normal(size=(8, 3))
y = rng.uniform(size=8)

neuron = nnfast.MLP([3, 1], output="sigmoid", loss="mse", seed=3)
w, b = neuron.weights[0][:, 0].copy(), neuron.biases[0][0]
y_hat = 1 / (1 + np.exp(-(X @ w + b)))
by_hand_w = np.mean((2 * (y_hat - y) * y_hat * (1 - y_hat))[:, None] * X, axis=0)
by_hand_b = np.mean(2 * (y_hat - y) * y_hat * (1 - y_hat))
dW, db = neuron.gradients(X, y)


def numerical_gradients(model, h=1e-6):
    """Central differences of model.loss over every weight and bias, one at a time."""
    grads = []
    for param in model.weights + model.biases:
        g = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + h
            up = model.loss(X, y)
            param[index] = saved - h
            down = model.loss(X, y)
            param[index] = saved
            g[index] = (up - down) / (2 * h)
        grads.append(g)
    return grads


numeric_w, numeric_b = numerical_gradients(neuron)
print("dC/dw by hand    ", np.round(by_hand_w, 8))
print("dC/dw by backprop", np.round(dW[0][:, 0], 8))
print("dC/dw numerically", np.round(numeric_w[:, 0], 8))
print(f"dC/db by hand {by_hand_b:.8f}, backprop {db[0][0]:.8f}, numerically {numeric_b[0]:.8f}")
neuron_error = max(np.max(np.abs(dW[0][:, 0] - by_hand_w)), abs(db[0][0] - by_hand_b),
                   np.max(np.abs(dW[0] - numeric_w)), abs(db[0][0] - numeric_b[0]))
print(f"neuron: largest difference {neuron_error:.1e}")

network = nnfast.MLP([3, 4, 1], activation="tanh", output="sigmoid", loss="mse", seed=5)
backprop = network.gradients(X, y)
numeric = numerical_gradients(network)
network_error = max(np.max(np.abs(g - n)) for g, n in zip(backprop[0] + backprop[1], numeric))
print(f"network 3 -> 4 tanh -> 1 sigmoid: {network.n_params} gradients, largest difference "
      f"from central differences {network_error:.1e}")
print("gradients agree:", neuron_error < 1e-7 and network_error < 1e-7)
