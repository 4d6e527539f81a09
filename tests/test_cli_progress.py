"""The training progress bar (on a terminal only), and `nnfast bench` handing its arguments
to nnfast.benchmark."""
import os
import select
import struct
import subprocess
import sys
import types

from nnfast.cli import main
from cli_helpers import nnfast_env


def run_on_terminal(args, cwd):
    """(exit status, everything written) of `python -m nnfast ARGS` with stdout and stderr
    on a pseudo-terminal, as in an interactive shell (POSIX)."""
    import fcntl
    import pty
    import termios

    leader, follower = pty.openpty()
    # a terminal of 24 rows and 120 columns (a new pseudo-terminal has none, so tqdm would
    # draw the bar zero characters wide)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "nnfast", *args], cwd=cwd,
                               stdout=follower, stderr=follower, env=nnfast_env())
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:          # the terminal closes when the process ends
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_on_a_terminal(tmp_path):
    status, text = run_on_terminal(["train", "iris", "--epochs", "30", "--validation", "0.2"],
                                   tmp_path)
    assert status == 0, text
    assert "training:" in text and "30/30" in text and "epoch" in text
    assert "loss=" in text and "val accuracy=" in text and "samples/s=" in text
    assert "\r" in text                                # redrawn in place
    assert "epoch  1/30  loss" not in text             # no log lines on a terminal
    assert "wrote model.npz" in text


def test_quiet_turns_the_bar_off_on_a_terminal(tmp_path):
    status, text = run_on_terminal(["train", "iris", "--epochs", "30", "--quiet"], tmp_path)
    assert status == 0, text
    assert "samples/s" not in text and "training:" not in text and "wrote model.npz" in text


def test_bench_passes_every_argument_to_the_benchmark(monkeypatch):
    received = []
    fake = types.ModuleType("nnfast.benchmark")
    fake.main = lambda argv: received.append(argv) or 3
    monkeypatch.setitem(sys.modules, "nnfast.benchmark", fake)
    import nnfast
    monkeypatch.setattr(nnfast, "benchmark", fake, raising=False)
    assert main(["bench", "--workloads", "W1,W2", "--help"]) == 3
    assert received == [["--workloads", "W1,W2", "--help"]]


def test_bench_without_the_benchmark_module(monkeypatch, capsys):
    import nnfast
    monkeypatch.setitem(sys.modules, "nnfast.benchmark", None)   # import fails
    monkeypatch.delattr(nnfast, "benchmark", raising=False)
    assert main(["bench"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("nnfast bench: error: the benchmark suite (nnfast.benchmark) is not "
                           "part of this installation")
