"""The comparison as text: per workload the median time, us/step, GFLOP/s and % of the CPU's
peak, and how many times faster nnfast is than each implementation; then the GEMM table, the
large inference, the peak memory of a fit, and a warning line for every cross-check that
failed. Next to each timing, the share of the CPUs the host took during it (a VM's steal time,
steal.py), with a note wherever a figure was not taken on a quiet machine, and how far apart
the first two CPUs were just before it (a cache line's round trip between them: machine.py)."""
from .steal import NOISY_SHARE, noisy, percent

BIG = ("W3", "W4")  # workloads whose GEMMs dominate: GFLOP/s and % of peak are meaningful


def _ratio(numerator, denominator):
    if not numerator or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}x"


def _check_text(result):
    check = result.get("check")
    if check is None:
        return "(the check's reference)" if result.get("status") == "ok" else ""
    if "bit_identical" in check:
        return "bit-identical" if check["passed"] else "NOT bit-identical"
    verdict = "ok" if check["passed"] else "DIFFERS"
    return (f"{verdict} (loss {check['loss_difference']:.0e}, "
            f"weights {check['weights_difference']:.0e})")


def most_steal(shares):
    """The largest known share of a row's runs, or None when none is known."""
    known = [share for share in shares or [] if share is not None]
    return max(known) if known else None


def round_trip_text(values):
    """The CPU round trips of a row's runs in ns: "88" or "79-371"; "-" where none is known."""
    known = [value for value in values or [] if value is not None]
    if not known:
        return "-"
    low, high = min(known), max(known)
    return f"{low:.0f}" if round(low) == round(high) else f"{low:.0f}-{high:.0f}"


def workload_lines(entry, machine):
    results = entry["results"]
    nnfast_keys = [key for key in results if key.startswith("nnfast-")
                   and results[key].get("median")]
    peak = machine.get("peak_gflops", {}).get(entry["dtype"])
    big = entry["workload"] in BIG
    lines = [f"{entry['workload']}: {entry['title']} -- {entry['layers']} {entry['dtype']}, "
             f"{entry['n_samples']} samples, {entry['steps']} steps, "
             f"{entry['flops'] / 1e9:.3g} GFLOP",
             f"  {'implementation':<28} {'median s':>10} {'best s':>10} {'us/step':>10} "
             f"{'GFLOP/s':>8} "
             f"{'% peak':>7} {'steal':>6} {'rt ns':>9} " + " ".join(f"{'vs ' + key.replace('nnfast-', 'nnfast '):>10}"
                                        for key in nnfast_keys) + "  check"]
    for key, result in results.items():
        if result.get("status") != "ok":
            lines.append(f"  {result['label']:<28} {result['status']}: {result['reason']}")
            continue
        median = result["median"]
        gflops = entry["flops"] / median / 1e9
        ratios = " ".join(f"{_ratio(median, results[k]['median']):>10}" for k in nnfast_keys)
        lines.append(
            f"  {result['label']:<28} {median:10.4g} {min(result['times']):10.4g} "
            f"{median / entry['steps'] * 1e6:10.2f} "
            + (f"{gflops:8.1f} {100 * gflops / peak:6.1f}%" if big and peak else
               f"{gflops:8.2f} {'':>7}" if big else f"{'-':>8} {'':>7}")
            + f" {percent(most_steal(result.get('steal'))):>6}"
            + f" {round_trip_text(result.get('round_trip_ns')):>9}"
            + f" {ratios}  {_check_text(result)}"
            + (f"  [{result['method']}]" if result.get("method", "full") != "full" else ""))
    lines.append("  us/step, GFLOP/s, % peak and 'vs nnfast N' (how many times faster nnfast "
                 "at N threads is than the row) are from the medians; steal: the most CPU "
                 "time the host took during one of the row's runs; rt ns: a cache line's round "
                 "trip between the first two CPUs just before each run (the least and the "
                 "most): a VM's host moves its CPUs, and 2-thread times follow how far apart "
                 "they are.")
    return lines


def warnings_for(entries, gemm_rows, inference_result=None):
    warnings = []
    for entry in entries:
        for result in entry["results"].values():
            check = result.get("check")
            if check and not check["passed"]:
                if "bit_identical" in check:
                    warnings.append(f"WARNING {entry['workload']}: {result['label']} is not "
                                    f"bit-identical to {check['against']}")
                else:
                    warnings.append(
                        f"WARNING {entry['workload']}: {result['label']} ends away from "
                        f"{check['against']}: loss {check['loss_difference']:.2e}, weights "
                        f"{check['weights_difference']:.2e} (tolerance {check['tolerance']}): "
                        f"the comparison is not of the same work")
            if result.get("status") == "failed":
                warnings.append(f"WARNING {entry['workload']}: {result['label']} failed: "
                                f"{result['reason']}")
    for result in ((inference_result or {}).get("results") or {}).values():
        if result.get("status") == "ok" and not result["passed"]:
            warnings.append(f"WARNING inference: {result['label']}'s outputs are "
                            f"{result['max_difference']:.1e} away from nnfast's (tolerance "
                            f"{inference_result['tolerance']:g})")
    for row in gemm_rows or []:
        limit = 1e-4 if row["dtype"] == "float32" else 1e-12
        if row["nnfast_relative_error"] > limit:
            warnings.append(f"WARNING gemm {row['dtype']} {row['shape']}: nnfast's result is "
                            f"{row['nnfast_relative_error']:.1e} away from float64 NumPy")
    return warnings


def gemm_lines(rows):
    def column(gflops):
        return f"{gflops:8.1f}" if gflops else f"{'n/a':>8}"

    def ratio(value):
        return f"{value:6.2f}x" if value else f"{'-':>7}"

    rounds = max((row.get("rounds", 1) for row in rows), default=1)
    lines = ["GEMM: nnfast._core.gemm vs NumPy and PyTorch matmul (GFLOP/s, 2*m*n*k per call; "
             "'ratio' = their time / nnfast's time)"
             + (f"; medians of {rounds} rounds of the whole table, a ratio the median of the "
                "rounds' ratios" if rounds > 1 else ""),
             f"  {'dtype':<8} {'shape':<22} {'m x n x k':>18} {'thr':>3} {'nnfast':>8} "
             f"{'NumPy':>8} {'ratio':>7} {'PyTorch':>8} {'ratio':>7}"]
    for row in rows:
        lines.append(f"  {row['dtype']:<8} {row['shape']:<22} "
                     f"{row['m']:>6}x{row['n']}x{row['k']:<6} {row['threads']:>3} "
                     f"{row['nnfast_gflops']:8.1f} {column(row['numpy_gflops'])} "
                     f"{ratio(row['ratio'])} {column(row.get('torch_gflops'))} "
                     f"{ratio(row.get('torch_ratio'))}")
    return lines


def inference_lines(result):
    layers = "-".join(str(n) for n in result["layers"])
    entries = result["results"]
    nnfast_keys = [key for key in entries if key.startswith("nnfast-")
                   and entries[key].get("status") == "ok"]
    lines = [f"Large inference: forward of {result['rows']} rows through {layers} "
             f"{result['dtype']} ({result['activation']}, {result['output']}), "
             f"{result['repeats']} interleaved repeat(s); outputs checked against nnfast "
             f"1 thread (max |difference| <= {result['tolerance']:g})",
             f"  {'implementation':<24} {'median ms':>10} {'GFLOP/s':>8} "
             + " ".join(f"{'vs ' + key.replace('nnfast-', 'nnfast '):>10}"
                        for key in nnfast_keys) + "  check"]
    for key, entry in entries.items():
        if entry.get("status") != "ok":
            lines.append(f"  {entry['label']:<24} {entry['status']}: {entry['reason']}")
            continue
        ratios = " ".join(f"{_ratio(entry['median'], entries[k]['median']):>10}"
                          for k in nnfast_keys)
        check = "ok" if entry["passed"] else "DIFFERS"
        lines.append(f"  {entry['label']:<24} {entry['median'] * 1e3:10.3f} "
                     f"{entry['gflops']:8.1f} {ratios}  {check} "
                     f"({entry['max_difference']:.0e})")
    return lines


def _per_dtype(values, fmt):
    return ", ".join(f"{dtype} {fmt.format(value)}" for dtype, value in values.items())


def clock_lines(machine):
    """The two clocks and the peak, saying which clock the peak comes from. A record written
    before the FMA throughput was measured has no peak_method: its peak is the nominal one."""
    clock = machine.get("clock_ghz")
    peak = machine.get("peak_gflops") or {}
    method = machine.get("peak_method", "cores x clock x FLOP/cycle" if peak else None)
    lines = [f"machine: {machine['cores']} cores, core clock {clock:.2f} GHz (measured: "
             f"dependent integer adds, one core)" if clock else
             f"machine: {machine['cores']} cores, core clock not measured on "
             f"{machine['machine']}"]
    if machine.get("simd_clock_ghz"):
        lines.append(f"  SIMD clock {_per_dtype(machine['simd_clock_ghz'], '{:.2f} GHz')} "
                     f"(measured: {machine['isa']} FMA chains on every core at once, "
                     f"{_per_dtype(machine['fma_gflops_per_core'], '{:.1f}')} GFLOP/s per "
                     f"core / FLOP/cycle)")
    probes = machine.get("fma_probes")
    if probes and all(probes):  # both measured (a CPU without the probe has neither)
        lines.append(f"  FMA probes at the run's start and end: "
                     f"{_per_dtype(probes[0], '{:.1f}')} and {_per_dtype(probes[1], '{:.1f}')} "
                     f"GFLOP/s per core; the peak takes the higher")
    if peak:
        lines.append(f"  peak = {method}: {_per_dtype(peak, '{:.0f} GFLOP/s')}")
    else:
        lines.append("  no peak measured here (no % of peak)")
    nominal = machine.get("peak_gflops_nominal")
    if nominal and nominal != peak:
        lines.append(f"  nominal peak (cores x core clock x FLOP/cycle, as older records): "
                     f"{_per_dtype(nominal, '{:.0f} GFLOP/s')}")
    return lines


def machine_lines(machine, versions):
    lines = clock_lines(machine)
    lines.append(f"  CPU features {machine['cpu_features']!r}; SIMD of the chosen GEMM kernel "
                 f"{machine['isa']}: {machine['flops_per_cycle']} FLOP/cycle/core; nnfast "
                 f"GEMM kernels {machine['gemm_kernels']}")
    caches = machine.get("caches") or {}
    if any(caches.values()):
        lines.append("  caches (the GEMM blocking follows them): " + ", ".join(
            f"{name} {size / 1024:.0f} KiB" for name, size in caches.items() if size))
    lines.append("  " + ", ".join(f"{name} {version}" for name, version in versions.items()))
    return lines


def memory_lines(memory):
    if not memory:
        return []
    if "error" in memory:
        return [f"memory of a {memory['workload']} fit: not measured ({memory['error']})"]
    return [f"memory of a {memory['workload']} fit (nnfast, fresh process, peak RSS): "
            f"{memory['peak_before_fit_mib']:.0f} MiB before the fit (the data: "
            f"{memory['data_mib']:.0f} MiB), {memory['peak_after_fit_mib']:.0f} MiB after: the "
            f"fit added {memory['fit_added_mib']:.1f} MiB (parameters: "
            f"{memory['params_mib']:.1f} MiB)"]


def steal_notes(report):
    """A note for every part of the run during which the host took more than NOISY_SHARE of
    the CPUs: its figures are not a quiet measurement."""
    notes = []
    for entry in report.get("workloads") or []:
        for result in entry["results"].values():
            share = most_steal(result.get("steal"))
            if noisy(share):
                notes.append(f"NOTE {entry['workload']}: the host took up to {percent(share)} "
                             f"of the CPUs during {result['label']}'s runs: not a quiet "
                             f"measurement")
    for part, share in (("the GEMM table", report.get("gemm_steal")),
                        ("the large inference", (report.get("inference") or {}).get("steal"))):
        if noisy(share):
            notes.append(f"NOTE {part}: the host took {percent(share)} of the CPUs while it "
                         f"ran: not a quiet measurement")
    return notes


def steal_line(report):
    share = report.get("steal")
    if share is None:
        return "host steal: not reported by this system"
    return (f"host steal over the whole run: {percent(share)} of the CPUs' time (a VM's steal "
            f"time; a figure is quiet below {100 * NOISY_SHARE:.0f}%)")


def render(report):
    lines = machine_lines(report["machine"], report["versions"])
    lines.append(f"command: {report['command']}")
    lines.append(steal_line(report))
    lines.append(f"{report['repeats']} interleaved repeat(s); medians. Cross-check: final loss "
                 f"and weights vs nnfast from the same start, relative tolerances "
                 + "; ".join(f"{dtype} loss {t['loss']:g}, weights {t['weights']:g}"
                             for dtype, t in report["tolerances"].items()) + ".")
    for entry in report["workloads"]:
        lines.append("")
        lines += workload_lines(entry, report["machine"])
    if report.get("gemm"):
        lines.append("")
        lines += gemm_lines(report["gemm"])
    if report.get("inference"):
        lines.append("")
        lines += inference_lines(report["inference"])
    if report.get("memory"):
        lines.append("")
        lines += memory_lines(report["memory"])
    warnings = warnings_for(report["workloads"], report.get("gemm"), report.get("inference"))
    lines.append("")
    lines += steal_notes(report)
    if warnings or report["workloads"]:
        lines += warnings or ["all cross-checks passed: every implementation did the same "
                              "work."]
    return "\n".join(lines)
