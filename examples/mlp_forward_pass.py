"""Seed 003: the forward pass of a layered network, by the seed's recipe and by nnfast.

Layer l has an N-by-M weight matrix W (N inputs, M neurons) and a bias vector of size M;
for one sample x the neurons' values are f(W^T x + b). The seed's example: 3 inputs, a hidden
layer of 4 neurons whose biases are 0.13, 0.14, 0.15, 0.16 and whose largest weight, W22 = 9,
joins input 2 to hidden neuron 2; then 2 output neurons.
"""
import numpy as np

import nnfast

W1 = np.array([[1., 2., 3., 4.],      # W1[i, j] joins input i+1 to hidden neuron j+1
               [5., 9., 7., 8.],      # W22 = 9: hidden neuron 2 weighs input 2 the most
               [4., 3., 2., 1.]]) * 0.1
b1 = np.array([0.13, 0.14, 0.15, 0.16])
W2 = np.array([[0.5, -0.5], [-0.3, 0.3], [0.2, 0.1], [0.1, -0.2]])
b2 = np.array([0.1, -0.1])
x = np.array([1.0, 0.5, -1.0])

# The seed's steps for one sample: transpose W, multiply by x, add the bias, activate.
hidden = np.tanh(W1.T @ x + b1)
output = 1 / (1 + np.exp(-(W2.T @ hidden + b2)))

model = nnfast.MLP([3, 4, 2], activation="tanh", output="sigmoid")
model.set_parameters([W1, W2], [b1, b2])
print("hidden layer, by hand:", np.round(hidden, 6))
print("output layer, by hand:", np.round(output, 6))
print("output layer, nnfast: ", np.round(model.forward(x[None, :])[0], 6))
print("same:", np.allclose(model.forward(x[None, :])[0], output, rtol=1e-12, atol=0))
# Many samples at once: the rows of X, so Z = X @ W + b computes every sample's W^T x + b.
X = np.vstack([x, -x, np.zeros(3)])
print("three samples at once:\n", np.round(model.forward(X), 6))
