"""A ``torch.nn.Sequential`` of Linear layers and activations as an nnfast MLP.

The layers read as an nnfast MLP: Linear, activation, Linear, activation, ..., Linear, and an
optional output activation. torch's Linear keeps ``weight`` as (n_out, n_in) and computes
x @ weight.T + bias: nnfast's W[l] is weight.T, b[l] is bias (zeros for bias=False).

Every hidden layer must use the same activation (an nnfast MLP has one); a Linear with no
activation after it is identity. Dropout is the identity at inference and is skipped.
"""
import numpy as np

from ..models.files import ModelRecord

# torch module class name -> nnfast activation (None: no-op at inference)
TORCH_ACTIVATIONS = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid",
                     "Softmax": "softmax", "Identity": None, "Dropout": None}
# the loss a model gets for its output activation; any other output: mse
OUTPUT_LOSSES = {"sigmoid": "binary_cross_entropy", "softmax": "cross_entropy"}
SUPPORTED = "Linear, " + ", ".join(TORCH_ACTIVATIONS)


def _layer_name(index, module):
    return f"layer {index} ({module!r})"


def layers_of(sequential):
    """[(W, b, activation or None)] for each Linear of sequential, in order."""
    import torch

    dense = []
    for index, module in enumerate(sequential):
        kind = type(module).__name__
        if isinstance(module, torch.nn.Linear):
            if module.weight.dtype not in (torch.float32, torch.float64):
                raise ValueError(f"{_layer_name(index, module)} holds {module.weight.dtype} "
                                 f"weights: nnfast runs float32 or float64")
            W = module.weight.detach().cpu().numpy().T
            b = (module.bias.detach().cpu().numpy() if module.bias is not None
                 else np.zeros(W.shape[1], dtype=W.dtype))
            dense.append([W, b, None])
            continue
        if kind not in TORCH_ACTIVATIONS or type(module).__module__.split(".")[0] != "torch":
            raise ValueError(f"{_layer_name(index, module)} is not supported: from_torch takes "
                             f"{SUPPORTED}")
        activation = TORCH_ACTIVATIONS[kind]
        if activation is None:
            continue
        if not dense:
            raise ValueError(f"{_layer_name(index, module)} comes before any Linear layer")
        if dense[-1][2] is not None:
            raise ValueError(f"{_layer_name(index, module)} follows another activation: an "
                             f"nnfast MLP has one activation per Linear")
        if kind == "Softmax" and module.dim not in (1, -1):
            raise ValueError(f"{_layer_name(index, module)}: nnfast's softmax runs over the "
                             f"features of each sample, dim=1 or -1")
        dense[-1][2] = activation
    if not dense:
        raise ValueError("the Sequential holds no Linear layer")
    return dense


def record_from_torch(sequential):
    """The record of an nnfast MLP computing what sequential computes (in eval mode).

    Parameters
    ----------
    sequential : torch.nn.Sequential of Linear and ReLU, Tanh, Sigmoid, Softmax(dim=1),
        Identity, Dropout; float32 or float64 weights

    Returns
    -------
    ModelRecord of an MLP (MLP.from_record) whose forward(X) is sequential(X), X of shape
    (n_samples, n_inputs). A sigmoid output gets the loss binary_cross_entropy, softmax
    cross_entropy, any other mse.
    """
    import torch

    if not isinstance(sequential, torch.nn.Sequential):
        raise TypeError(f"from_torch takes a torch.nn.Sequential, got "
                        f"{type(sequential).__name__}")
    dense = layers_of(sequential)
    for l, (W, b, _) in enumerate(dense[1:], 1):
        if W.shape[0] != dense[l - 1][0].shape[1]:
            raise ValueError(f"Linear {l} takes {W.shape[0]} inputs, the previous one gives "
                             f"{dense[l - 1][0].shape[1]}")
    hidden = {activation or "identity" for _, _, activation in dense[:-1]}
    if len(hidden) > 1:
        raise ValueError(f"the hidden layers use {' and '.join(sorted(hidden))}: an nnfast MLP "
                         f"uses one activation for every hidden layer")
    if "softmax" in hidden:
        raise ValueError("softmax is only an output activation in nnfast")
    dtypes = {W.dtype.name for W, _, _ in dense}
    if len(dtypes) > 1:
        raise ValueError(f"the Linear layers hold {' and '.join(sorted(dtypes))} weights: an "
                         f"nnfast MLP has one dtype")
    layers = [dense[0][0].shape[0]] + [W.shape[1] for W, _, _ in dense]
    output = dense[-1][2] or "identity"
    dtype = dtypes.pop()
    config = {"layers": layers, "activation": hidden.pop() if hidden else "identity",
              "output": output, "loss": OUTPUT_LOSSES.get(output, "mse"), "seed": 0,
              "dtype": dtype, "init": "zeros"}
    return ModelRecord("MLP", config, [np.array(W, dtype) for W, _, _ in dense],
                       [np.array(b, dtype) for _, b, _ in dense], 0, None, None, {})
