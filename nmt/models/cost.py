"""What a forward pass costs, counted while it runs: the multiply-accumulates of a model's own
modules, so a new variant is costed as what it is (tools/bench.py's MFU rests on this)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence
from torch.utils.flop_counter import FlopCounterMode

GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _rnn_macs(rnn: nn.RNNBase, inputs) -> int:
    """A fused RNN's products: per position, layer and direction, gates x hidden x (input + hidden)."""
    first = inputs[0]
    if isinstance(first, PackedSequence):
        positions = first.data.shape[0]  # real tokens only
    else:
        positions = first.shape[0] * first.shape[1] if first.dim() == 3 else first.shape[0]
    directions, hidden = 2 if rnn.bidirectional else 1, rnn.hidden_size
    total = 0
    for layer in range(rnn.num_layers):
        size_in = rnn.input_size if layer == 0 else hidden * directions
        total += positions * directions * GATES[rnn.mode] * hidden * (size_in + hidden)
    return total


@torch.no_grad()
def forward_macs(model: nn.Module, *inputs) -> int:
    """Multiply-accumulates of `model(*inputs)`: matrix products as torch's FLOP counter sees them
    (a product of m x k by k x n is m k n), plus what it cannot see inside fused RNNs (on the CPU
    it sees into a GRU's but not an LSTM's)."""
    counter = FlopCounterMode(display=False)
    unseen, before = [0], [0]

    def start(module: nn.Module, args) -> None:
        before[0] = counter.get_total_flops()

    def finish(module: nn.RNNBase, args, output) -> None:
        seen = (counter.get_total_flops() - before[0]) // 2
        unseen[0] += max(_rnn_macs(module, args) - seen, 0)

    rnns = [m for m in model.modules() if isinstance(m, nn.RNNBase)]
    hooks = [m.register_forward_pre_hook(start) for m in rnns] + [m.register_forward_hook(finish) for m in rnns]
    try:
        with counter:
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return counter.get_total_flops() // 2 + unseen[0]
