"""The documentation builds with Sphinx, warnings as errors, and holds what it promises: the
API reference from the docstrings and the math page quoting the functions it explains."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nnfast

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html",
         "-d", str(out / "doctrees"), str(ROOT / "docs"), str(out / "html")],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "html"


def page(html, name):
    return (html / name).read_text(encoding="utf-8")


def test_api_reference_documents_the_public_api(html):
    api = page(html, "api.html")
    for anchor in ("nnfast.MLP.fit", "nnfast.Perceptron.fit", "nnfast.Neuron.forward",
                   "nnfast.load", "nnfast.ops.matmul", "nnfast.ops.dense_backward",
                   "nnfast.data.load_iris", "nnfast.config.show_config",
                   "nnfast.reference.ops.softmax", "nnfast.reference.MLP.fit"):
        assert f'id="{anchor}"' in api, anchor
    # napoleon turned the NumPy-style "Parameters" sections into field lists
    fit = api.split('id="nnfast.MLP"', 1)[1]
    assert "Parameters" in fit and "layers" in fit


def test_math_page_quotes_the_code_next_to_each_equation(html):
    math = page(html, "math.html")
    text = re.sub(r"<[^>]+>", "", math)
    for function in ("def sigmoid_derivative(A):", "def dense_backward(A_prev, W, delta",
                     "def cross_entropy(Z, Y):", "def adam_step(", "def perceptron_rule(",
                     "def u64(self):"):
        assert function in text, function
    assert "\\delta_{prev}" in text  # the backprop equation, as math


def test_semantics_benchmarks_and_changelog_are_pages(html):
    assert "Model files" in page(html, "semantics.html")
    assert "nnfast bench" in page(html, "benchmarks.html")
    release = page(html, "release.html")
    assert "format_version" in release and "Compatibility rule" in release
    assert f"nnfast {nnfast.__version__}" in page(html, "index.html")
