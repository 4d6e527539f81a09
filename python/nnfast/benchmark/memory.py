"""Peak resident memory of a fit, measured in a fresh process so that nothing else the
benchmark allocated counts: the peak before the fit (interpreter, nnfast, the data) and after.
The fresh process matters: a peak is a high-water mark, never lowered by freeing.

    python -m nnfast.benchmark.memory W3 [--quick]   prints one JSON line
"""
import json
import os
import resource
import subprocess
import sys


def _peak_mib():
    """This process's peak resident memory in MiB. On Linux from VmHWM: getrusage's ru_maxrss
    survives execve, so a child of a large process would report its parent's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB


def measure_here(name, quick):
    """Peak RSS (MiB) before and after nnfast fits workload `name`, in this process."""
    from .workloads import make_nnfast_model, workloads

    (workload,) = workloads([name], quick)
    X, y = workload.data()
    model = make_nnfast_model(workload)
    before = _peak_mib()
    model.fit(X, y, epochs=workload.epochs, batch_size=workload.batch_size, lr=workload.lr,
              shuffle=False)
    after = _peak_mib()
    return {"workload": name, "data_mib": (X.nbytes + y.nbytes) / 2**20,
            "params_mib": model.n_params * X.itemsize / 2**20,
            "peak_before_fit_mib": before, "peak_after_fit_mib": after,
            "fit_added_mib": after - before}


def measure(name="W3", quick=False, timeout=600):
    """measure_here in a subprocess that imports the same nnfast; a dict, or {"error": ...}."""
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "nnfast.benchmark.memory", name] + ["--quick"] * quick
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"workload": name, "error": f"timed out after {timeout} s"}
    if done.returncode != 0:
        return {"workload": name, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(measure_here(args[0], "--quick" in args[1:])))
