"""A trained translation model as two ONNX graphs, for nmt/runtime, which translates with onnxruntime,
numpy and sentencepiece alone (no torch):

    DIR/encoder.onnx     src (B, S) int64, src_lengths (B,) -> every memory tensor, then the first state
    DIR/step.onnx        tokens (N,), memory..., state... -> log_probs (N, V), the next state..., attention (N, S);
                         where the decoder shares memory (RNNsearch, Luong: export.json's shares_memory),
                         N = B x beams state rows read the B sentences' memory rows, each sentence's beams
                         consecutive (beam search keeps one memory row a sentence, not K copies). RNNsearch's
                         per-sentence products (torch's beam search: BahdanauDecoder.with_values) are left
                         out: measured, they sped the export's beam search 5 % and slowed its greedy 22-26 %
    DIR/step.int8.onnx   the step with int8 weights (onnxruntime's dynamic quantization), the output layer's too
    DIR/encoder.int8.onnx  the encoder with int8 weights, its RNNs' too (half the fp32 encoder's time)
    DIR/step.shortlist[.int8].onnx, DIR/shortlist.npz, DIR/output_rows.npz   where the experiment has a
                         shortlist (nmt-shortlist): the step over given rows of the output layer, a batch's
                         shortlisted target ids' (P of them), which the runtime gathers once a batch from
                         output_rows.npz: output.weight (P, D) float and output.bias (P,); in the int8 step
                         output.weight_t (D, P) int8 with output.weight_scale and output.weight_zero_point
    DIR/topk.onnx        x (N, M) float, k (1,) int64 -> each row's k largest values and their columns, best first:
                         beam search's choice each step (onnxruntime's TopK is ~25x numpy's argpartition)
    DIR/export.json      the tensors' names and batch dimensions, the vocabulary size, what made it, and the
                         variant the runtime runs by default (nmt/export_choice.py: chosen on the dev set)
    DIR/config.yaml, DIR/spm*.model   the experiment's, as nmt-translate reads them

The graphs are traced by torch's TorchScript-based exporter, which writes packed LSTMs and GRUs as
ONNX's own RNN operators (its newer dynamo exporter has open RNN bugs). A step graph takes only the
memory tensors its decoder reads; the runtime feeds it what its inputs name.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nmt.errors import NmtError
from nmt.models import Seq2Seq
from nmt.models.seq2seq import RestrictedOutput, output_rows
from nmt.models.state import DecoderState, Memory
from nmt.shortlist import FILE as SHORTLIST_FILE
from nmt.specials import EOS, PAD

FORMAT = 1  # export.json's layout; the runtime refuses another
OUTPUT_ROWS = "output_rows.npz"
OPSET = 17
SOURCE_DIMS = {"states", "mask", "keys", "values", "source_positions"}  # memory fields with a source axis


def _fields(instance) -> list[tuple[str, int]]:
    """(name, batch dimension) of every tensor a Memory or DecoderState holds."""
    return [(f.name, f.metadata.get("batch_dim", 0)) for f in dataclasses.fields(instance)
            if isinstance(getattr(instance, f.name), torch.Tensor)]


class _EncoderGraph(nn.Module):
    def __init__(self, model: Seq2Seq, memory: list[str], state: list[str]):
        super().__init__()
        self.model, self.memory, self.state = model, memory, state

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor):
        memory = self.model.encode(src, src_lengths)
        state = self.model.init_state(memory)
        return tuple(getattr(memory, name) for name in self.memory) + tuple(getattr(state, name) for name in self.state)


class _StepGraph(nn.Module):
    """One decoder step; `restricted`: its second and third inputs are the output layer's rows (P, D) and
    biases (P,) of some target ids, and its log-probabilities are over those (a lexical shortlist,
    nmt/shortlist.py)."""

    def __init__(self, model: Seq2Seq, memory: list[str], state: list[str], attends: bool, restricted: bool = False):
        super().__init__()
        self.model, self.memory, self.state, self.attends, self.restricted = model, memory, state, attends, restricted

    def forward(self, tokens: torch.Tensor, *tensors: torch.Tensor):
        output = None
        if self.restricted:
            output, tensors = RestrictedOutput(self.model.output, None, rows=(tensors[0], tensors[1])), tensors[2:]
        memory_fields: dict[str, Any] = dict(zip(self.memory, tensors[: len(self.memory)]))
        state_fields: dict[str, Any] = dict(zip(self.state, tensors[len(self.memory):]))
        memory, state = Memory(**memory_fields), DecoderState(**state_fields)
        log_probs, state, attention = self.model.step(tokens, state, memory, output=output)
        outputs = (log_probs,) + tuple(getattr(state, name) for name in self.state)
        return outputs + (attention,) if self.attends else outputs


def _example(vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two sentences of different lengths, so the trace keeps the padding logic general."""
    word = min(4, vocab_size - 1)  # the first id after the specials
    src = torch.tensor([[word] * 5 + [EOS], [word] * 3 + [EOS, PAD, PAD]])
    return src, torch.tensor([6, 4])


def export_model(model: Seq2Seq, exp_dir: Path, out: Path, *, src_vocab_size: int, tgt_vocab_size: int,
                 int8: bool = True, describe: dict | None = None) -> dict:
    """Writes the graphs, the manifest and the experiment's config and SentencePiece models into `out`;
    returns the manifest."""
    model = model.cpu().eval()
    shortlist = (exp_dir / SHORTLIST_FILE).exists()  # nmt-shortlist made one: a step over its pieces too
    src, src_lengths = _example(src_vocab_size)
    shares = bool(getattr(model.decoder, "shares_memory", False))
    beams = 2 if shares else 1  # traced with two state rows a sentence: the graph infers the count from shapes
    with torch.inference_mode():
        memory = model.encode(src, src_lengths)
        state = model.init_state(memory).select(torch.arange(2).repeat_interleave(beams))
        attends = model.step(torch.full((2 * beams,), EOS), state, memory)[2] is not None
    memory_fields, state_fields = _fields(memory), _fields(state)
    memory_names, state_names = [n for n, _ in memory_fields], [n for n, _ in state_fields]
    out.mkdir(parents=True, exist_ok=True)

    def axes(batch: int, source: bool, rows: str = "batch") -> dict:
        return {batch: rows, **({1: "source"} if source else {})}

    encoder_outputs = [f"memory.{n}" for n in memory_names] + [f"state.{n}" for n in state_names]
    encoder_axes = {"src": {0: "batch", 1: "source"}, "src_lengths": {0: "batch"},
                    **{f"memory.{n}": axes(d, n in SOURCE_DIMS) for n, d in memory_fields},
                    **{f"state.{n}": axes(d, False) for n, d in state_fields}}
    rows = "rows" if shares else "batch"  # the step's state rows: a sentence's beams, where it shares memory
    step_inputs = ["tokens"] + encoder_outputs
    step_outputs = ["log_probs"] + [f"next.{n}" for n in state_names] + (["attention"] if attends else [])
    step_axes = {"tokens": {0: rows}, "log_probs": {0: rows},
                 **{f"memory.{n}": axes(d, n in SOURCE_DIMS) for n, d in memory_fields},
                 **{f"{kind}.{n}": axes(d, False, rows) for n, d in state_fields for kind in ("state", "next")},
                 **({"attention": {0: rows, 1: "source"}} if attends else {})}
    tokens = torch.full((2 * beams,), EOS)
    step_example = (tokens,) + tuple(getattr(memory, n) for n in memory_names) + tuple(getattr(state, n) for n in state_names)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python-side values it keeps constant
        encoder_graph = _EncoderGraph(model, memory_names, state_names).eval()
        torch.onnx.export(encoder_graph, (src, src_lengths), str(out / "encoder.onnx"), dynamo=False,
                          input_names=["src", "src_lengths"], output_names=encoder_outputs,
                          dynamic_axes=encoder_axes, opset_version=OPSET)
        step_graph = _StepGraph(model, memory_names, state_names, attends).eval()
        torch.onnx.export(step_graph, step_example, str(out / "step.onnx"), dynamo=False, input_names=step_inputs,
                          output_names=step_outputs, dynamic_axes=step_axes, opset_version=OPSET)
        if shortlist:
            _export_shortlisted_step(model, out, step_example, step_inputs, step_outputs, step_axes, rows, attends,
                                     memory_names, state_names, tgt_vocab_size)
            shutil.copyfile(exp_dir / SHORTLIST_FILE, out / SHORTLIST_FILE)
    if int8:
        _quantize(out / "step.onnx", out / "step.int8.onnx")
        _quantize(out / "encoder.onnx", out / "encoder.int8.onnx")
        if shortlist:
            _int8_given_rows(out / "step.shortlist.onnx", out / "step.shortlist.int8.onnx")
            _quantize(out / "step.shortlist.int8.onnx", out / "step.shortlist.int8.onnx")
    (out / "topk.onnx").write_bytes(topk_graph())
    for name in ("config.yaml", "spm.model", "spm.src.model", "spm.tgt.model"):
        if (exp_dir / name).exists():
            shutil.copyfile(exp_dir / name, out / name)
    manifest = {"format": FORMAT, "memory": memory_fields, "state": state_fields, "attention": attends,
                "src_vocab_size": src_vocab_size, "tgt_vocab_size": tgt_vocab_size,
                "reverse_source": bool(model.reverse_source), "shares_memory": shares, "int8": int8, "shortlist": shortlist, "opset": OPSET,
                "torch": torch.__version__, **(describe or {})}
    (out / "export.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def _export_shortlisted_step(model: Seq2Seq, out: Path, step_example: tuple, step_inputs: list[str],
                             step_outputs: list[str], step_axes: dict, rows: str, attends: bool, memory_names: list[str],
                             state_names: list[str], tgt_vocab_size: int) -> None:
    """step.shortlist.onnx and the output layer's rows it is given (output_rows.npz, float and int8)."""
    parts = output_rows(model.output)
    if parts is None:
        raise NmtError("export: the shortlisted step needs a float output layer")
    _, weight, bias = parts
    pieces = torch.arange(min(6, tgt_vocab_size))  # the specials and two more: any ids would do
    torch.onnx.export(_StepGraph(model, memory_names, state_names, attends, restricted=True).eval(),
                      (step_example[0], weight[pieces], bias[pieces]) + step_example[1:], str(out / "step.shortlist.onnx"),
                      dynamo=False, input_names=["tokens", "output.weight", "output.bias"] + step_inputs[1:],
                      output_names=step_outputs, opset_version=OPSET,
                      dynamic_axes={**step_axes, "output.weight": {0: "pieces"}, "output.bias": {0: "pieces"},
                                    "log_probs": {0: rows, 1: "pieces"}})
    table = weight.detach().float().numpy()
    scale = (np.maximum(np.abs(table).max(1), 1e-8) / 127).astype(np.float32)  # symmetric, one scale a row, as
    # the other products' per-channel int8 (_quantize)
    np.savez(out / OUTPUT_ROWS, weight=table, bias=bias.detach().float().numpy(),
             weight_int8=np.clip(np.round(table / scale[:, None]), -127, 127).astype(np.int8), scale=scale)


def _int8_given_rows(source: Path, target: Path) -> None:
    """The shortlisted step with its output product over given int8 rows (D, P), a scale and zero point
    for each (P,): onnxruntime's
    DynamicQuantizeMatMul (quantize_dynamic, which runs next, leaves a product whose weight is an input
    in float)."""
    import onnx
    from onnx import TensorProto, helper

    graph_model = onnx.load(str(source))
    graph = graph_model.graph
    (node,) = [n for n in graph.node if "output.weight" in n.input]
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type != "Gemm" or attributes.get("transB") != 1 or attributes.get("transA", 0) or node.input[2] != "output.bias":
        raise NmtError(f"export: the shortlisted step's output product is a {node.op_type} {attributes}, not x W^T + b")
    replacement = helper.make_node("DynamicQuantizeMatMul", [node.input[0], "output.weight_t", "output.weight_scale",
                                                             "output.weight_zero_point", "output.bias"],
                                   list(node.output), name="output_rows_int8", domain="com.microsoft")
    position = list(graph.node).index(node)
    graph.node.remove(node)
    graph.node.insert(position, replacement)
    (given,) = [i for i in graph.input if i.name == "output.weight"]
    size = given.type.tensor_type.shape.dim[1].dim_value
    graph.input.remove(given)
    graph.input.extend([helper.make_tensor_value_info("output.weight_t", TensorProto.INT8, [size, "pieces"]),
                        helper.make_tensor_value_info("output.weight_scale", TensorProto.FLOAT, ["pieces"]),
                        helper.make_tensor_value_info("output.weight_zero_point", TensorProto.INT8, ["pieces"])])
    if not any(o.domain == "com.microsoft" for o in graph_model.opset_import):
        graph_model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(graph_model, str(target))


def topk_graph() -> bytes:
    """One ONNX TopK operator as a model: the runtime's beam search picks each step's candidates with it."""
    from onnx import TensorProto, helper

    node = helper.make_node("TopK", ["x", "k"], ["values", "indices"], axis=1, largest=1, sorted=1)
    graph = helper.make_graph([node], "topk", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", "columns"]),
                                               helper.make_tensor_value_info("k", TensorProto.INT64, [1])],
                              [helper.make_tensor_value_info("values", TensorProto.FLOAT, ["rows", "k"]),
                               helper.make_tensor_value_info("indices", TensorProto.INT64, ["rows", "k"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # what onnxruntime 1.18 (the oldest the runtime takes) reads
    return model.SerializeToString()


def _quantize(source: Path, target: Path) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise NmtError("export: the int8 step needs onnxruntime (pip install onnxruntime), or give --no-int8") from None
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to run a pre-processing pass, logged at every call
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # A scale for each output column: the same speed as one scale a matrix, and on the Ding model
            # 81 % of beam translations as fp32's against 78 %, BLEU 5.81 against 6.07 (fp32 5.82)
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)
