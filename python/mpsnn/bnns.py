"""BNNS-style LSTM: Accelerate's direct-apply LSTM API on the CPU.

Names are Apple's without the prefix, in snake_case:

=============================================  =============================================
Accelerate                                     mpsnn.bnns
=============================================  =============================================
BNNSLayerParametersLSTM                        LayerParametersLSTM
BNNSLSTMDataDescriptor                         LSTMDataDescriptor
BNNSLSTMGateDescriptor                         LSTMGateDescriptor
BNNSActivation / BNNSActivationFunction        Activation / ActivationFunction
BNNSLayerFlagsLSTMBidirectional, ...           LayerFlags.lstm_bidirectional, ...
BNNSComputeLSTMTrainingCacheCapacity           compute_lstm_training_cache_capacity
BNNSDirectApplyLSTMBatchTrainingCaching        direct_apply_lstm_batch_training_caching
BNNSDirectApplyLSTMBatchBackward               direct_apply_lstm_batch_backward
=============================================  =============================================

Descriptors hold float32 C-contiguous NumPy arrays where BNNS holds
BNNSNDArrayDescriptor; ``None`` means absent. Shapes and the gate order are in
docs/lstm-layout.md and the C++ header ``mpsnn/bnns.hpp``. Outputs are written
into the arrays given, in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ._core import _bnns
from ._core._bnns import ActivationFunction, DataLayout, LayerFlags

__all__ = [
    "Activation", "ActivationFunction", "DataLayout", "FilterParameters", "LayerFlags",
    "LayerParametersLSTM", "LSTMDataDescriptor", "LSTMGateDescriptor",
    "compute_lstm_training_cache_capacity", "direct_apply_lstm_batch_backward",
    "direct_apply_lstm_batch_training_caching",
]

Array = Optional[np.ndarray]


@dataclass
class Activation:
    """BNNSActivation: a function with Apple's alpha and beta."""

    function: ActivationFunction = ActivationFunction.identity
    alpha: float = 0.0
    beta: float = 0.0


@dataclass
class LSTMDataDescriptor:
    """Sequence data ([T,B,F] for SNE, [B,T,F] for NSE) with hidden and cell states ([L*D,B,H])."""

    data_desc: Array = None
    hidden_desc: Array = None
    cell_state_desc: Array = None


@dataclass
class LSTMGateDescriptor:
    """One gate's weights: iw_desc = (first layer or all layers, later layers), hw_desc,
    cw_desc (peephole, diagonal [L,D,H] or full [L,D,H,H]), b_desc, activation."""

    iw_desc: tuple = (None, None)
    hw_desc: Array = None
    cw_desc: Array = None
    b_desc: Array = None
    activation: Activation = field(default_factory=lambda: Activation(ActivationFunction.sigmoid))


@dataclass
class LayerParametersLSTM:
    """BNNSLayerParametersLSTM, plus where BNNS keeps them elsewhere: ``data_layout``
    (BNNS reads it off data_desc) and ``dropout_seed`` (mpsnn's dropout is reproducible)."""

    input_size: int = 0
    hidden_size: int = 0
    batch_size: int = 0
    num_layers: int = 1
    seq_len: int = 0
    dropout: float = 0.0
    lstm_flags: int = 0
    input_descriptor: LSTMDataDescriptor = field(default_factory=LSTMDataDescriptor)
    output_descriptor: LSTMDataDescriptor = field(default_factory=LSTMDataDescriptor)
    input_gate: LSTMGateDescriptor = field(default_factory=LSTMGateDescriptor)
    forget_gate: LSTMGateDescriptor = field(default_factory=LSTMGateDescriptor)
    candidate_gate: LSTMGateDescriptor = field(
        default_factory=lambda: LSTMGateDescriptor(activation=Activation(ActivationFunction.tanh)))
    output_gate: LSTMGateDescriptor = field(default_factory=LSTMGateDescriptor)
    hidden_activation: Activation = field(default_factory=lambda: Activation(ActivationFunction.tanh))
    data_layout: DataLayout = DataLayout.sne
    dropout_seed: int = 0


@dataclass
class FilterParameters:
    """BNNSFilterParameters; ``use_reference_kernel`` runs the plain reference kernel."""

    use_reference_kernel: bool = False


def compute_lstm_training_cache_capacity(layer_params: LayerParametersLSTM) -> int:
    """Bytes of training cache the forward writes and the backward reads."""
    return _bnns.compute_lstm_training_cache_capacity(layer_params)


def direct_apply_lstm_batch_training_caching(
    layer_params: LayerParametersLSTM,
    filter_params: FilterParameters | None = None,
    training_cache: np.ndarray | None = None,
) -> None:
    """Forward; with ``training_cache`` (capacity bytes, e.g. ``np.empty(n, np.uint8)``)
    it trains (writes the cache, applies dropout), without it it infers."""
    _bnns.direct_apply_lstm_batch_training_caching(layer_params, filter_params, training_cache)


def direct_apply_lstm_batch_backward(
    layer_params: LayerParametersLSTM,
    layer_delta_params: LayerParametersLSTM,
    filter_params: FilterParameters | None = None,
    training_cache: np.ndarray | None = None,
) -> None:
    """Backward. ``layer_delta_params`` mirrors ``layer_params``: its output descriptor holds
    dy, dhn, dcn (read), its input descriptor dx, dh0, dc0 and its gates the weight and bias
    gradients (written where given). Without ``training_cache`` the forward is recomputed."""
    _bnns.direct_apply_lstm_batch_backward(layer_params, layer_delta_params, filter_params, training_cache)
