"""Export a trained model for programs without Python: C99 headers.

- ``to_c(model)``: the float header (header.py), what ``nnfast export MODEL --c FILE`` writes
- ``quantize(model, X_calibration)``: the int8 model (int8.py), whose ``to_c()`` is what
  ``nnfast export MODEL --c FILE --int8 --calibrate DATA`` writes; its Python methods compute
  what the header computes, bit for bit
"""
from .header import to_c
from .int8 import QuantizedMLP, quantize

__all__ = ["QuantizedMLP", "quantize", "to_c"]
