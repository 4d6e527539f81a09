"""Models in and out of nnfast: weights from scikit-learn and PyTorch, ONNX out.

- ``sklearn_weights.record_from_sklearn``: a fitted scikit-learn MLPClassifier/MLPRegressor as an
  nnfast MLP (``nnfast.MLP.from_sklearn``)
- ``torch_weights.record_from_torch``: a ``torch.nn.Sequential`` of Linear layers and activations
  as an nnfast MLP (``nnfast.MLP.from_torch``)
- ``onnx_graph.to_onnx``: an nnfast model as an ONNX graph (``model.to_onnx``,
  ``nnfast export MODEL --onnx FILE``)
- ``skl2onnx_converters``: nnfast.sklearn's estimators for ``skl2onnx.to_onnx``

Each module imports its library (scikit-learn, torch, onnx, skl2onnx) only when called.
"""
