"""Seed 000: will A and B go to the cinema? One neuron, z = w . x + b, go when z >= 0.

Inputs: friends come, the cinema is near, the weather is cool (1 yes, 0 no).
A cares about friends (w = 5, 3, 1); B about distance and weather (w = 2, 3, 3). Both go when
w . x >= 5, so b = -5.
"""
import itertools

import numpy as np

import nnfast

X = np.array(list(itertools.product([0, 1], repeat=3)), dtype=float)
person_a = nnfast.Neuron([5, 3, 1], bias=-5)   # step activation: 1 when z >= 0
person_b = nnfast.Neuron([2, 3, 3], bias=-5)
goes_a, goes_b = person_a.forward(X), person_b.forward(X)

print("friends near cool | A goes | B goes")
for x, a, b in zip(X.astype(int), goes_a, goes_b):
    print(f"   {x[0]}      {x[1]}    {x[2]}   |   {int(a)}    |   {int(b)}")
print("A goes exactly when friends come:", bool(np.all(goes_a == X[:, 0])))
print("B goes when any two of friends, near, cool hold:",
      bool(np.all(goes_b == (X.sum(axis=1) >= 2))))
