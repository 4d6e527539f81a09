"""Running the nnfast command in a subprocess, as a user would, for the command-line tests."""
import os
import struct
import subprocess
import sys

import numpy as np

import nnfast

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(nnfast.__file__)))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def nnfast_env():
    """The environment with this nnfast importable first (a source tree or an install)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PYTHON_DIR] + [p for p in
                                         env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def run_nnfast(*args, cwd=None, check=None):
    """CompletedProcess of `python -m nnfast ARGS` with text stdout/stderr.

    check : expected exit status, asserted with the output in the message when given.
    """
    result = subprocess.run([sys.executable, "-m", "nnfast", *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, env=nnfast_env(), timeout=300)
    if check is not None:
        assert result.returncode == check, (
            f"nnfast {' '.join(map(str, args))} exited {result.returncode}, expected {check}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def call_nnfast(capsys, *args):
    """stdout of nnfast.cli.main(ARGS) run in this process (faster than a subprocess, for
    tests whose subject is not the process itself); asserts exit status 0."""
    from nnfast.cli import main

    capsys.readouterr()
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert status == 0, f"nnfast {' '.join(map(str, args))} exited {status}: {err}"
    return out


def assert_one_line_error(result, *words):
    """Exit status 2, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert lines[0].startswith("nnfast "), lines[0]
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"


def png_size(path):
    """(width, height) of a PNG file, from its IHDR chunk; asserts the file is a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG file"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def write_csv(path, header, rows):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(str(v) for v in row) + "\n")
    return path


def read_csv_floats(text):
    """(header, rows as float array) of CSV text with a header row."""
    lines = text.strip().splitlines()
    return lines[0].split(","), np.array([[float(v) for v in line.split(",")]
                                          for line in lines[1:]])
