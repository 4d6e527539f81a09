"""The one version source of nnfast (also written into model files)."""

__version__ = "0.1.0"
