"""Dropout and early stopping: a network large enough to learn the noise of its training
rows, regularized by dropout (each hidden unit dropped with probability 0.2 while it trains),
stopped when the loss of held-out rows stops falling, and given back the weights of its best
epoch.

Both curves are printed every 10 epochs; `python examples/dropout_early_stopping.py FILE.png`
also draws them into FILE.png (with matplotlib: pip install "nnfast[plot]").
"""
import sys

import nnfast
from nnfast.data.generators import make_moons

X, y = make_moons(n_samples=120, noise=0.35, seed=3)   # few, noisy rows: easy to overfit

model = nnfast.MLP([2, 64, 64, 2], activation="relu", dropout=0.2, seed=0)
model.fit(X, y, epochs=1000, batch_size=16, optimizer="adam", lr=0.005,
          validation_fraction=0.3, early_stopping=True, patience=50)

train, held_out, best = model.loss_curve_, model.validation_loss_curve_, model.best_epoch_
print(" epoch  training loss  validation loss")
for epoch in sorted(set(range(0, len(train), 10)) | {best, len(train) - 1}):
    print(f"{epoch + 1:6d}  {train[epoch]:13.4f}  {held_out[epoch]:15.4f}"
          + ("  <- best, weights kept" if epoch == best else ""))
print(f"stopped after {len(train)} of 1000 epochs: {len(train) - best - 1} epochs without a "
      f"lower validation loss")
print("the validation loss rose after its best epoch:", held_out[-1] > held_out[best])

if len(sys.argv) < 2:
    sys.exit(0)
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots()
ax.plot(range(1, len(train) + 1), train, label="training loss")
ax.plot(range(1, len(held_out) + 1), held_out, label="validation loss")
ax.axvline(best + 1, color="gray", linestyle=":", label=f"best epoch ({best + 1})")
ax.set_xlabel("epoch")
ax.set_ylabel("loss")
ax.legend()
fig.savefig(sys.argv[1], dpi=100)
print("wrote", sys.argv[1])
