"""The training progress: a tqdm bar on a terminal, a few log lines otherwise.

The bar shows the epoch, the loss, the validation score and samples per second. It is drawn
only when stdout and stderr are terminals; piped into a file, training logs ten evenly spaced
epochs instead, and --quiet turns both off.
"""
import sys

LOG_LINES = 10


def epoch_line(epoch, epochs, loss, score_name, score, samples_per_s):
    text = f"epoch {epoch:>{len(str(epochs))}}/{epochs}  loss {loss:.4f}"
    if score is not None:
        text += f"  validation {score_name} {score:.4f}"
    return text + f"  ({samples_per_s:,.0f} samples/s)"


class EpochProgress:
    """Call update() once per epoch, close() at the end."""

    def __init__(self, epochs, score_name, quiet=False, out=print):
        self.epochs, self.score_name, self.out = epochs, score_name, out
        self.bar = None
        self.logged = set()
        if quiet:
            self.mode = "quiet"
        elif sys.stdout.isatty() and sys.stderr.isatty():
            from tqdm import tqdm

            self.mode = "bar"
            self.bar = tqdm(total=epochs, desc="training", unit="epoch", file=sys.stderr,
                            dynamic_ncols=True, leave=True)
        else:
            self.mode = "log"
            step = max(1, epochs // LOG_LINES)
            self.logged = set(range(step, epochs + 1, step)) | {1, epochs}

    def update(self, epoch, loss, score, samples_per_s):
        """Report epoch (1-based) done with this loss and validation score (or None)."""
        if self.mode == "bar":
            postfix = {"loss": f"{loss:.4f}"}
            if score is not None:
                postfix[f"val {self.score_name}"] = f"{score:.4f}"
            postfix["samples/s"] = f"{samples_per_s:,.0f}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)
        elif self.mode == "log" and epoch in self.logged:
            self.out(epoch_line(epoch, self.epochs, loss, self.score_name, score, samples_per_s))

    def close(self):
        if self.bar is not None:
            self.bar.close()
