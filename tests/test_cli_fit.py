"""`nnfast train` with the fit options: --early-stopping, --patience, --class-weight,
--validation-fraction, --optimizer lbfgs, --max-iter; --plot with the validation loss."""
import numpy as np
import pytest

import nnfast
from nnfast.cli import plots

from cli_helpers import assert_one_line_error, call_nnfast, png_size, run_nnfast


def red_pixels(path):
    """Pixels of the validation-loss colour (matplotlib's tab:red) in a PNG."""
    from matplotlib import colors, image

    pixels = image.imread(str(path))[..., :3]
    red = np.array(colors.to_rgb(plots.VALIDATION_LOSS_COLOR))
    return int(np.count_nonzero(np.abs(pixels - red).max(axis=-1) < 0.02))


def test_train_with_early_stopping_class_weights_and_lbfgs(tmp_path):
    pytest.importorskip("matplotlib")
    out = run_nnfast("train", "iris", "--layers", "8", "--epochs", "60", "--standardize",
                     "--early-stopping", "--patience", "3", "--class-weight", "balanced",
                     "--optimizer", "lbfgs", "--plot", "plots", "--out", "m.npz",
                     cwd=tmp_path, check=0).stdout
    model = nnfast.load(tmp_path / "m.npz")
    curve, validation = model.loss_curve_, model.validation_loss_curve_
    best = model.best_epoch_
    assert len(validation) == len(curve) <= 60
    assert best == int(np.argmin(validation))
    # early stopping ends the run 3 iterations after the best, unless L-BFGS stops first
    assert len(curve) == best + 1 + 3 or len(curve) == 60 or "stopped early" not in out
    assert f"trained {len(curve)} iterations" in out
    assert f"best {validation[best]:.4f} at iteration {best + 1}" in out
    assert "its weights kept" in out
    assert png_size(tmp_path / "plots" / "loss.png") == (640, 480)
    assert red_pixels(tmp_path / "plots" / "loss.png") > 50
    info = run_nnfast("info", "m.npz", cwd=tmp_path, check=0).stdout
    assert (f"validation loss: {len(validation)} epochs, last {validation[-1]:.4f}, best "
            f"{validation[best]:.4f} at epoch {best + 1}") in info


def test_early_stopping_stops_a_sgd_run_and_keeps_the_best_epoch(tmp_path, capsys):
    out = call_nnfast(capsys, "train", "iris", "--layers", "16", "--epochs", "400",
                      "--standardize", "--lr", "0.5", "--batch-size", "8", "--early-stopping",
                      "--patience", "2", "--validation", "0.3", "--quiet",
                      "--out", tmp_path / "m.npz")
    model = nnfast.load(tmp_path / "m.npz")
    best = model.best_epoch_
    assert len(model.loss_curve_) == best + 1 + 2 < 400
    assert "stopped early, its weights kept" in out
    # the validation score printed is the kept (best) epoch's
    scores = model.validation["scores"]
    assert f"validation accuracy {scores[best]:.4f} (45 samples)" in out


def test_validation_fraction_is_held_out_by_fit(tmp_path, capsys):
    out = call_nnfast(capsys, "train", "iris", "--layers", "8", "--epochs", "5",
                      "--validation-fraction", "0.2", "--class-weight", "balanced",
                      "--quiet", "--out", tmp_path / "m.npz")
    model = nnfast.load(tmp_path / "m.npz")
    assert len(model.validation_loss_curve_) == 5 and model.validation is None
    assert "validation loss" in out
    # early stopping alone holds out 0.1 of the rows
    call_nnfast(capsys, "train", "iris", "--layers", "8", "--epochs", "5", "--early-stopping",
                "--quiet", "--out", tmp_path / "e.npz")
    assert len(nnfast.load(tmp_path / "e.npz").validation_loss_curve_) >= 1


@pytest.mark.parametrize("args, words", [
    (["--validation", "0.2", "--validation-fraction", "0.2"], ["--validation-fraction"]),
    (["--max-iter", "5"], ["--max-iter", "lbfgs"]),
])
def test_bad_fit_flags_are_one_line_errors(tmp_path, args, words):
    result = run_nnfast("train", "iris", "--epochs", "2", "--quiet", *args, cwd=tmp_path)
    assert_one_line_error(result, *words)
    assert not (tmp_path / "model.npz").exists()


@pytest.mark.parametrize("args", [["--patience", "0"], ["--class-weight", "even"],
                                  ["--max-iter", "-1"]])
def test_bad_fit_flag_values_are_usage_errors(tmp_path, args):
    result = run_nnfast("train", "iris", "--epochs", "2", "--quiet", *args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"argument {args[0]}" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "model.npz").exists()


def test_class_weight_needs_a_classification_target(tmp_path):
    X = np.random.default_rng(0).normal(size=(30, 2))
    np.savez(tmp_path / "r.npz", X=X, y=X[:, 0] * 0.37 + 0.1)
    result = run_nnfast("train", "r.npz", "--task", "regression", "--class-weight", "balanced",
                        cwd=tmp_path)
    assert_one_line_error(result, "--class-weight", "classification")


def test_loss_plot_draws_the_validation_loss_beside_the_training_loss(tmp_path):
    pytest.importorskip("matplotlib")
    both = plots.loss_plot(tmp_path / "both.png", [1.0, 0.5, 0.3], None, [1.1, 0.7, 0.8])
    alone = plots.loss_plot(tmp_path / "alone.png", [1.0, 0.5, 0.3])
    assert both == ["training loss", "validation loss"] and alone == ["training loss"]
    assert red_pixels(tmp_path / "both.png") > 50 and red_pixels(tmp_path / "alone.png") == 0
    scored = plots.loss_plot(tmp_path / "s.png", [1.0, 0.5], {"metric": "r2",
                                                             "scores": [0.1, 0.5]}, [1.2, 0.9])
    assert scored == ["training loss", "validation loss", "validation r2"]
