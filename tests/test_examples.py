"""Each script in examples/ runs and shows what its seed document shows."""
import os
import subprocess
import sys

import pytest

from cli_helpers import nnfast_env

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")

# What each example must print: the seed's result, computed by the library.
EXPECTED = {
    "cinema_neuron.py": ["A goes exactly when friends come: True",
                         "B goes when any two of friends, near, cool hold: True"],
    "and_gate_gradient_descent.py": ["predictions: [0, 0, 0, 1] targets: [0, 0, 0, 1]",
                                     "same weights: True"],
    "chain_rule_gradients.py": ["gradients agree: True"],
    "perceptron_rule.py": ["AND: learned", "OR : learned", "XOR: not learned after 100 epochs"],
    "mlp_forward_pass.py": ["same: True"],
    "dropout_early_stopping.py": ["<- best, weights kept",
                                 "the validation loss rose after its best epoch: True"],
}


def test_every_example_is_checked():
    assert sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py")) == sorted(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs(script):
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, script)],
                            capture_output=True, text=True, env=nnfast_env(), timeout=300)
    assert result.returncode == 0, result.stderr
    for line in EXPECTED[script]:
        assert line in result.stdout, f"{script}: {line!r} not in\n{result.stdout}"
