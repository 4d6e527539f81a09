"""bench/bench_sparse.py in --quick mode: every implementation and task is measured in its own
subprocess and reported with its fields, and nnfast's coefficients equal scikit-learn's.
Times are not asserted (speed is measured on a quiet machine, never in a test)."""
import contextlib
import importlib.util
import io
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_sparse.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_sparse", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_reports_every_field(tmp_path):
    bench = load_bench()
    path = tmp_path / "report.json"
    with contextlib.redirect_stdout(io.StringIO()) as text:
        bench.main(["--quick", "--json", str(path)])
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["n_features"] == 2 ** 18
    assert set(report["results"]) == {f"{i}/{t}" for i in ("nnfast", "sklearn")
                                      for t in ("fit", "partial_fit", "mlp_fit")}
    for key, r in report["results"].items():
        assert r["seconds"] > 0, key
        assert r["rss_peak_mib"] >= r["rss_before_mib"] > 0, key
        assert r["rss_increase_mib"] == r["rss_peak_mib"] - r["rss_before_mib"], key
        assert r["traced_peak_mib"] > 0, key
        rows = report["mlp_docs"] if key.endswith("mlp_fit") else report["docs"]
        assert r["n_rows"] == rows and r["nnz"] > r["n_rows"], key
    agreement = report["agreement"]
    assert agreement["coef_max_abs"] > 0
    assert agreement["coef_max_abs_diff"] <= 1e-7 * agreement["coef_max_abs"]
    assert agreement["n_iter"][0] == agreement["n_iter"][1]
    for name in ("fit", "partial_fit", "nnfast", "sklearn", "coef_"):
        assert name in text.getvalue()


def test_synthetic_documents_are_deterministic_and_hash_to_wide_csr():
    bench = load_bench()
    docs, topics = bench.documents(30, seed=4)
    again, _ = bench.documents(30, seed=4)
    assert docs == again and len(set(topics)) > 1
    X = bench.hashed(docs)
    assert X.format == "csr" and X.shape == (30, 2 ** 18) and X.nnz > 30 * 20
