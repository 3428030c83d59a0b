"""An exported model (nmt/export.py) behind the four calls search makes (encode, init_state, step,
reorder), on onnxruntime and numpy; and several of them as an ensemble. No torch."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nmt.errors import NmtError
from nmt.runtime.search import top_numpy

FORMAT = 1  # nmt/export.py's manifest layout


def chosen_variant(directory: str | Path) -> dict[str, bool]:
    """{"int8": ..., "shortlist": ...}: what nmt-export chose on the dev set for the runtime to run by
    default (nmt/export_choice.py); an export written before the choice runs fp32."""
    manifest = json.loads((Path(directory) / "export.json").read_text(encoding="utf-8"))
    chosen = manifest.get("default", {})
    return {name: bool(chosen.get(name, False)) for name in ("int8", "shortlist")}


def is_export(path: str | Path) -> bool:
    """Whether `path` is a directory nmt-export wrote (rather than an experiment directory)."""
    return (Path(path) / "export.json").is_file()


@dataclass
class ExportedMemory:
    tensors: dict[str, np.ndarray]  # what the step graph reads, by its input name; batch first
    first_state: dict[str, np.ndarray]  # the decoder's start, by the step's state input names


class ExportedModel:
    """One exported model. `int8`: the step and encoder graphs with int8 weights (an export written before
    encoder.int8.onnx keeps its float encoder). `threads`: onnxruntime's threads
    within an operator (default: OMP_NUM_THREADS if set, else onnxruntime's choice)."""

    def __init__(self, directory: str | Path, *, int8: bool = False, threads: int | None = None):
        try:
            import onnxruntime
        except ImportError:
            raise NmtError("runtime: an exported model runs on onnxruntime: pip install onnxruntime") from None
        self.directory = Path(directory)
        manifest = json.loads((self.directory / "export.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            raise NmtError(f"runtime: {self.directory} was exported in format {manifest.get('format')}; this "
                           f"runtime reads format {FORMAT} (export the model again with this version)")
        step_file = self.directory / ("step.int8.onnx" if int8 else "step.onnx")
        if not step_file.exists():
            raise NmtError(f"runtime: {self.directory} has no {step_file.name} (exported with --no-int8?)")
        options = onnxruntime.SessionOptions()
        threads = threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # No spin-waiting between operators: on 2 cores the spinning pool thread took the core the search's
        # numpy work needs (the Ding export's default: 882 against 704 sentences/s greedy, 277 against 220 beam)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.enable_cpu_mem_arena = False  # the arena keeps every batch's peak: 1.2 GB against 0.84 without, as fast
        providers = ["CPUExecutionProvider"]
        encoder_file = self.directory / "encoder.int8.onnx"
        self.encoder_file = encoder_file if int8 and encoder_file.exists() else self.directory / "encoder.onnx"
        self.encoder = onnxruntime.InferenceSession(str(self.encoder_file), options, providers=providers)
        self.stepper = onnxruntime.InferenceSession(str(step_file), options, providers=providers)
        self._restricted: Any = None  # the shortlisted step, loaded when first asked for
        self._rows: tuple[np.ndarray | None, dict[str, np.ndarray]] = (None, {})  # a batch's pieces and their rows
        self._table: dict[str, np.ndarray] | None = None  # output_rows.npz, read when first needed
        self._session = lambda path: onnxruntime.InferenceSession(str(path), options, providers=providers)
        self.int8 = int8
        topk_file = self.directory / "topk.onnx"  # exports before it have none: numpy selects then
        single = onnxruntime.SessionOptions()
        single.intra_op_num_threads = single.inter_op_num_threads = 1  # the caller's thread: a pool of its
        # own would spin against the step's (its steps took twice as long)
        self.topk = (onnxruntime.InferenceSession(str(topk_file), single, providers=providers)
                     if topk_file.exists() else None)
        self.manifest = manifest
        self.shares_memory = bool(manifest.get("shares_memory"))  # exports before it repeat memory K times
        # Batch dimension of each tensor, by the step's names for it.
        self.state_dims = {f"state.{name}": dim for name, dim in manifest["state"]}
        self.memory_dims = {f"memory.{name}": dim for name, dim in manifest["memory"]}
        self.step_inputs = {item.name for item in self.stepper.get_inputs()}
        self.step_outputs = [item.name for item in self.stepper.get_outputs()]
        self.encoder_outputs = [item.name for item in self.encoder.get_outputs()]

    def encode(self, src: np.ndarray, src_lengths: np.ndarray) -> ExportedMemory:
        """src (B, S) int64 ids ending in EOS, then PAD; src_lengths (B,)."""
        outputs = dict(zip(self.encoder_outputs, self.encoder.run(None, {"src": src, "src_lengths": src_lengths})))
        return ExportedMemory({name: value for name, value in outputs.items()
                               if name in self.memory_dims and name in self.step_inputs},
                              {name: value for name, value in outputs.items() if name in self.state_dims})

    def init_state(self, memory: ExportedMemory) -> dict[str, np.ndarray]:
        return dict(memory.first_state)

    def step(self, tokens: np.ndarray, state: dict[str, np.ndarray], memory: ExportedMemory,
             pieces: np.ndarray | None = None):
        """tokens (N,) -> log-probabilities (N, V), the next state, attention (N, S) or None. `pieces`: the
        target ids (P,) the log-probabilities are over instead (the shortlisted step; their output rows are
        gathered once for each new `pieces` array, a batch's)."""
        feed = {"tokens": tokens, **memory.tensors, **{k: v for k, v in state.items() if k in self.step_inputs}}
        stepper = self.stepper
        if pieces is not None:
            stepper = self.restricted()
            feed.update(self._output_rows(pieces))
        outputs = dict(zip(self.step_outputs, stepper.run(None, feed)))
        next_state = {f"state.{name[len('next.'):]}": value for name, value in outputs.items() if name.startswith("next.")}
        return outputs["log_probs"], next_state, outputs.get("attention")

    def restricted(self) -> Any:
        """The step over given target ids (step.shortlist[.int8].onnx, which nmt-export writes for an
        experiment with a shortlist); loaded once."""
        if self._restricted is None:
            path = self.directory / ("step.shortlist.int8.onnx" if self.int8 else "step.shortlist.onnx")
            if not path.exists():
                raise NmtError(f"runtime: decode.shortlist is on but {self.directory} has no {path.name}: make the "
                               "shortlist (nmt-shortlist --model EXP_DIR), then nmt-export again")
            self._restricted = self._session(path)
        return self._restricted

    def _output_rows(self, pieces: np.ndarray) -> dict[str, np.ndarray]:
        """The shortlisted step's inputs for the target ids `pieces`: their output rows (float, or int8 with
        the table's scale), gathered when `pieces` is not the array of the last call; an export written
        before output_rows.npz takes the ids themselves."""
        if self._rows[0] is pieces:
            return self._rows[1]
        names = {item.name for item in self.restricted().get_inputs()}
        if "pieces" in names:
            rows = {"pieces": pieces}
        else:
            if self._table is None:
                if not (self.directory / "output_rows.npz").exists():
                    raise NmtError(f"runtime: {self.directory} has no output_rows.npz, which its shortlisted step "
                                   "reads: nmt-export the model again")
                with np.load(self.directory / "output_rows.npz", allow_pickle=False) as stored:
                    self._table = dict(stored)
            table = self._table
            rows = {"output.bias": table["bias"][pieces]}
            if "output.weight_t" in names:
                scale = table["scale"]  # one a row; an export before per-row scales has one for the table
                scale = scale[pieces] if scale.ndim else scale
                rows.update({"output.weight_t": np.ascontiguousarray(table["weight_int8"][pieces].T),
                             "output.weight_scale": scale, "output.weight_zero_point": np.zeros_like(scale, dtype=np.int8)})
            else:
                rows["output.weight"] = table["weight"][pieces]
        self._rows = (pieces, rows)
        return rows

    def top(self, candidates: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The `count` best of each row and their columns, best first: the export's TopK graph, else numpy."""
        if self.topk is None:
            return top_numpy(candidates, count)
        values, index = self.topk.run(None, {"x": candidates, "k": np.array([count], dtype=np.int64)})
        return values, index

    def reorder(self, state: dict[str, np.ndarray], memory: ExportedMemory | None, index: np.ndarray):
        """Keep (and repeat) the batch rows `index` of state and memory; memory None stays None."""
        state = {name: value.take(index, axis=self.state_dims[name]) for name, value in state.items()}
        if memory is not None:
            memory = ExportedMemory({name: value.take(index, axis=self.memory_dims[name])
                                     for name, value in memory.tensors.items()},
                                    {name: value.take(index, axis=self.state_dims[name])
                                     for name, value in memory.first_state.items()})
        return state, memory


class ExportedEnsemble:
    """Several exported models behind one step interface: each step averages their log-probabilities,
    and attention comes from the first member (as nmt.translate.Ensemble)."""

    def __init__(self, models: list[ExportedModel]):
        self.models = models
        self.shares_memory = all(model.shares_memory for model in models)  # else all repeat it: a sharing step
        # reads repeated memory as one beam a sentence

    def encode(self, src: np.ndarray, src_lengths: np.ndarray) -> list[ExportedMemory]:
        return [model.encode(src, src_lengths) for model in self.models]

    def init_state(self, memories: list[ExportedMemory]) -> list[dict]:
        return [model.init_state(memory) for model, memory in zip(self.models, memories)]

    def top(self, candidates: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        return self.models[0].top(candidates, count)

    def step(self, tokens: np.ndarray, states: list[dict], memories: list[ExportedMemory],
             pieces: np.ndarray | None = None):
        outputs = [model.step(tokens, state, memory, pieces) for model, state, memory in zip(self.models, states, memories)]
        log_probs = np.mean(np.stack([output[0] for output in outputs]), axis=0)
        return log_probs, [output[1] for output in outputs], outputs[0][2]

    def reorder(self, states: list[dict] | dict, memories: list[ExportedMemory] | None, index: np.ndarray):
        states = states or [{}] * len(self.models)  # {}: the memory alone
        pairs = [model.reorder(state, memory, index) for model, state, memory
                 in zip(self.models, states, memories if memories is not None else [None] * len(self.models))]
        return [pair[0] for pair in pairs], [pair[1] for pair in pairs] if memories is not None else None



class ShortlistedExport:
    """An exported model (or ensemble) over the target ids `pieces` (sorted, the specials first, so BOS,
    EOS and PAD keep their ids): its tokens are positions in `pieces` (nmt.shortlist.Shortlisted's rules)."""

    def __init__(self, model: ExportedModel | ExportedEnsemble, pieces: np.ndarray):
        self.model, self.pieces = model, pieces
        self.shares_memory = model.shares_memory

    def encode(self, src: np.ndarray, src_lengths: np.ndarray):
        return self.model.encode(src, src_lengths)

    def init_state(self, memory):
        return self.model.init_state(memory)

    def step(self, tokens: np.ndarray, state, memory):
        return self.model.step(self.pieces[tokens], state, memory, self.pieces)

    def top(self, candidates: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        return self.model.top(candidates, count)

    def reorder(self, state, memory, index: np.ndarray):
        return self.model.reorder(state, memory, index)
