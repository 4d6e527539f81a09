"""Sphinx configuration: the API reference from the docstrings (autodoc, NumPy style through
napoleon), the narrative pages in Markdown (MyST). Build: sphinx-build -W docs build/docs"""
import nnfast

project = "nnfast"
author = "the nnfast developers"
release = nnfast.__version__
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]

napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
# the docstrings give each type with its shape (NumPy style); annotations are for checkers
autodoc_typehints = "none"
autodoc_default_options = {"members": True, "show-inheritance": True}
# names a signature gives as strings (forward references) -> the documented objects
autodoc_type_aliases = {"MLP": "nnfast.MLP", "Perceptron": "nnfast.Perceptron"}

myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"nnfast {release}"
