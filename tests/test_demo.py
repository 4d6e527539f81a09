"""`nnfast demo` runs the seeds' examples and reports what a newcomer should see."""
import subprocess
import sys

from nnfast import demo


def test_demo_reports_every_example():
    lines = []
    demo.run(out=lines.append)
    text = "\n".join(lines)
    assert "reference agrees: True" in text and "reference agrees: False" not in text
    assert "AND learned" in text and "OR  learned" in text
    assert "XOR not learned" in text and "XOR is not linearly separable" in text
    assert "predictions [0, 1, 1, 0]" in text          # XOR by the MLP and by RBF features
    accuracy = float(text.split("test accuracy ")[1].split()[0])
    assert accuracy >= 0.9
    assert text.count("time: native") == 7


def test_console_entry_point():
    result = subprocess.run([sys.executable, "-m", "nnfast", "--version"], capture_output=True,
                            text=True)
    assert result.returncode == 0 and result.stdout.startswith("nnfast ")
    result = subprocess.run([sys.executable, "-m", "nnfast"], capture_output=True, text=True)
    assert result.returncode == 2 and "demo" in result.stdout
