"""nmt-translate: translate stdin (or -i FILE) line by line with a trained model.

Output has exactly one line per input line, in input order, whatever the input holds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from nmt.cli.bulk import LineProgress, ResumableOutput, StreamOutput, count_lines, file_identity
from nmt.cli.common import available_cores, limit_threads, run_main, stop_on_signals
from nmt.cli.search_options import add_search_arguments, plain_line, with_search_options
from nmt.cli.stream import clean_line, line_batches
from nmt.config import Config
from nmt.errors import NmtError
from nmt.translations import keep_pattern, with_kept_words

CHUNK_LINES = 512  # lines read (and sorted by length into batches) at a time from a file; 64 from a stream


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nmt-translate", description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, metavar="EXP_DIR",
                        help="experiment directory, or a directory nmt-export wrote (repeat for an ensemble)")
    parser.add_argument("--checkpoint", action="append", default=None, metavar="best|last|avg|PATH",
                        help="which weights (default best); repeat to ensemble checkpoints of one model")
    add_search_arguments(parser, per="line")  # each sets the model's decode.* key of the same meaning
    parser.add_argument("--json", action="store_true", help="JSON lines: translation, n-best with scores")
    parser.add_argument("--alignments", action="store_true", help="JSON lines with the attention matrix")
    parser.add_argument("--prefix", default=None, metavar="FILE",
                        help="the start of each line's translation, a line each (empty: none): the search continues it")
    parser.add_argument("--constraints", default=None, metavar="FILE",
                        help='words each line\'s translation must contain: a JSON list a line, e.g. ["Hunger"] ([] for none)')
    parser.add_argument("--keep", default=None, metavar="REGEX",
                        help="source words matching REGEX stay untranslated: each match is a required word of its "
                             "line's translation, e.g. --keep '%%[sd]|\\{\\d+\\}|https?://\\S+'")
    parser.add_argument("--tags", action="store_true",
                        help="keep inline tags (<b>...</b>, <br/>): taken out, put back where the attention links them")
    parser.add_argument("--score-target", default=None, metavar="FILE",
                        help="forced decoding: score this file's lines as translations of the input's, line by "
                             "line (no search): the log-probability, with --json each piece's and the attention")
    parser.add_argument("--batch-tokens", type=int, default=None)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda when there is one)")
    parser.add_argument("--quantize", choices=["int8", "none"], default=None,
                        help="int8: dynamic int8 quantization (CPU), an export's int8 graphs; none: fp32 (default: "
                             "fp32 for an experiment, for an export the variant nmt-export chose on dev)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="decode.KEY=VALUE",
                        help="override a decode setting of the model's config, e.g. --set decode.length_penalty=0.6")
    parser.add_argument("-i", "--input", default=None, help="input file (default stdin)")
    parser.add_argument("-o", "--output", default=None,
                        help="output file (default stdout); with -i, an interrupted run continues it (nmt/cli/bulk.py)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr (shown with -i)")
    return parser.parse_args()


def _load(args: argparse.Namespace):

    from nmt.tasks import load_trained
    from nmt.translate import Ensemble, check_compatible

    checkpoints = args.checkpoint or ["best"]
    if len(args.model) > 1 and len(checkpoints) > 1:
        raise NmtError("translate: give several --model or several --checkpoint, not both")
    pairs = [(m, checkpoints[0]) for m in args.model] if len(args.model) > 1 else [(args.model[0], c) for c in checkpoints]
    loaded = [load_trained(model, task="translation", checkpoint=checkpoint, device=args.device) for model, checkpoint in pairs]
    check_compatible(loaded)
    models = [item.model for item in loaded]
    if args.quantize == "int8":
        if args.device != "cpu":
            raise NmtError("translate: --quantize int8 runs on the CPU only")
        import warnings

        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*deprecated", category=UserWarning)
        from nmt.models.seq2seq import quantize_int8

        models = [quantize_int8(m) for m in models]
    return loaded, models[0] if len(models) == 1 else Ensemble(models)


def _decode_config(saved: Config, args: argparse.Namespace) -> Config:
    """The model's config with --set decode.* items and then the search options applied and checked."""
    for item in args.overrides:
        if not item.startswith("decode."):
            raise NmtError(f"translate: --set {item!r}: only decode.* settings can change at translation time")
    cfg: Config = with_search_options(saved, args, args.overrides)
    return cfg


def _format(result, tokenizer, args: argparse.Namespace, nbest: int) -> str:
    from nmt.translations import json_record

    if args.json or args.alignments:
        return json.dumps(json_record(result, tokenizer, alignment=args.alignments), ensure_ascii=False)
    return plain_line(result, nbest)


def _torch_translator(args: argparse.Namespace):
    """The translator of experiment directories (torch), its config and what identifies its weights."""
    from nmt.translate import Translator

    limit_threads()
    from nmt.device import pick_device

    args.device = str(pick_device(args.device, setting="translate: --device"))
    loaded, model = _load(args)
    cfg = _decode_config(loaded[0].cfg, args)
    if args.batch_tokens:
        cfg.decode.batch_tokens = args.batch_tokens
    shortlist = None
    if cfg.decode.shortlist:
        from nmt.shortlist import Shortlist

        shortlist = Shortlist.load(Path(args.model[0]))
    translator = Translator(model, loaded[0].tokenizer, decode=cfg.decode, device=args.device, seed=args.seed,
                            keep_attention=args.alignments or args.tags, shortlist=shortlist)
    return translator, cfg, [file_identity(item.checkpoint) for item in loaded]


def _exported_translator(args: argparse.Namespace):
    """The translator of directories nmt-export wrote (onnxruntime, no torch), as _torch_translator."""
    from nmt.runtime.model import is_export
    from nmt.runtime.translate import ExportedTranslator, load_exports

    if not all(is_export(model) for model in args.model):
        raise NmtError("translate: give exported directories (nmt-export) or experiment directories, not both")
    if args.checkpoint:
        raise NmtError("translate: an export holds the weights it was made from; --checkpoint picks an experiment's")
    if args.device not in (None, "cpu"):
        raise NmtError(f"translate: an exported model runs on the CPU (onnxruntime), not --device {args.device}")
    threads = None if "OMP_NUM_THREADS" in os.environ else available_cores()  # OMP_NUM_THREADS wins, as for torch
    loaded = load_exports(args.model, int8={"int8": True, "none": False}.get(args.quantize), threads=threads)
    cfg = _decode_config(loaded.cfg, args)
    if args.batch_tokens:
        cfg.decode.batch_tokens = args.batch_tokens
    translator = ExportedTranslator(loaded.model, loaded.tokenizer, decode=cfg.decode,
                                    keep_attention=args.alignments or args.tags, shortlist=loaded.shortlist_for(cfg.decode))
    step = "step.int8.onnx" if loaded.int8 else "step.onnx"
    return translator, cfg, [file_identity(directory / step) for directory in loaded.directories]


def _main() -> int:
    args = _arguments()
    stop_on_signals()
    from nmt.runtime.model import is_export

    exported = any(is_export(model) for model in args.model)
    translator, cfg, weights = _exported_translator(args) if exported else _torch_translator(args)
    if args.score_target:
        _score_lines(translator, args)
        return 0
    args.prefixes = _read_lines(args.prefix) if args.prefix else None
    args.required = _read_constraints(args.constraints) if args.constraints else None
    try:
        args.kept = keep_pattern(args.keep, "translate: --keep")
    except ValueError as err:
        raise NmtError(str(err)) from None
    input_lines = count_lines(Path(args.input)) if args.input else None  # read once: the checks and the progress
    for values, option, what in ((args.required, f"--constraints {args.constraints}", "list"),
                                 (args.prefixes, f"--prefix {args.prefix}", "prefix line")):
        if values is not None and input_lines is not None and len(values) != input_lines:
            raise NmtError(f"translate: {option} has {len(values):,} lines, the input {input_lines:,}: give one "
                           f"(maybe empty) {what} for each input line")
    source = _open_input(args.input) if args.input else sys.stdin.buffer
    skip = 0
    output: ResumableOutput | StreamOutput
    if args.input and args.output:  # a file-to-file run: continued where an identical one stopped
        asked = {"input": file_identity(args.input), "models": weights,
                 "decode": dataclasses.asdict(cfg.decode), "seed": args.seed, "quantize": args.quantize,
                 "format": {"json": args.json, "alignments": args.alignments},
                 **({"prefix": file_identity(args.prefix)} if args.prefix else {}),
                 **({"constraints": file_identity(args.constraints)} if args.constraints else {}),
                 **({"tags": True} if args.tags else {}), **({"keep": args.keep} if args.keep else {})}
        output = ResumableOutput(args.output, asked)
        skip, state = output.open()
        if state is not None:
            translator.restore_sampling_state(state)
    else:
        output = StreamOutput(args.output)
    progress = LineProgress(input_lines, done=skip) if input_lines is not None and not args.quiet else None
    complete = False
    try:
        _translate_lines(translator, source, output, progress, skip=skip, args=args, cfg=cfg)
        complete = True
    except KeyboardInterrupt:
        if isinstance(output, ResumableOutput):
            print(f"nmt-translate: {output.lines_done:,} lines are in {args.output}; the same command "
                  f"continues after them", file=sys.stderr)
        raise
    finally:
        if args.input:
            source.close()
        output.close(complete=complete)
    if progress is not None:
        progress.finish()
    return 0


def _translate_lines(translator, source, output, progress: LineProgress | None, *, skip: int,
                     args: argparse.Namespace, cfg: Config) -> None:
    """Every input line to one output line, a batch at a time, after the first `skip` lines."""
    warned: set[str] = set()  # each kind of problem is reported once, at its first line
    line_number = 0
    for raw_lines in line_batches(source.fileno(), max_lines=CHUNK_LINES if args.input else 64):
        if skip:  # written by the interrupted run
            taken = min(skip, len(raw_lines))
            skip, line_number, raw_lines = skip - taken, line_number + taken, raw_lines[taken:]
            if not raw_lines:
                continue
        texts = []
        for raw in raw_lines:
            line_number += 1
            text, problems = clean_line(raw)
            for problem in (p for p in problems if p not in warned):
                print(f"nmt-translate: warning: input line {line_number} (and maybe later ones): {problem}",
                      file=sys.stderr)
                warned.add(problem)
            texts.append(text)
        first_number = line_number - len(texts) + 1

        def warn_truncated(offset: int, first_number: int = first_number) -> None:
            print(f"nmt-translate: warning: input line {first_number + offset} is longer than "
                  f"{cfg.decode.max_src_tokens} tokens; translating its beginning only", file=sys.stderr)

        prefixes = _lines_beside(args.prefixes, f"--prefix {args.prefix}", first_number, line_number)
        required = _lines_beside(args.required, f"--constraints {args.constraints}", first_number, line_number)
        required = with_kept_words(args.kept, texts, required, tags=args.tags)
        results = translator.translate(texts, on_truncated=warn_truncated, prefixes=prefixes, constraints=required,
                                       tags=args.tags)
        for offset, result in enumerate(results):
            if result[0].constraints_met is False:
                print(f"nmt-translate: warning: input line {first_number + offset}: its required words do not all fit "
                      f"within the length limit; the best translation without them is given", file=sys.stderr)
        text = "".join(_format(result, translator.tokenizer, args, cfg.decode.nbest).replace("\n", " ") + "\n" for result in results)
        output.write(text, len(texts), translator.sampling_state())
        if progress is not None:
            progress.advance(len(texts))


def _lines_beside(values: list | None, option: str, first: int, last: int) -> list | None:
    """The entries of a file given beside the input (--prefix, --constraints) for input lines first..last."""
    if values is None:
        return None
    if last > len(values):
        raise NmtError(f"translate: {option} has {len(values):,} lines; input line {len(values) + 1:,} has none")
    return values[first - 1: last]


def _read_lines(path: str | None) -> list[str]:
    """A file's lines (stdin's for None), cleaned as input lines are."""
    source = _open_input(path) if path else sys.stdin.buffer
    try:
        raw = source.read().split(b"\n")
    finally:
        if path:
            source.close()
    return [clean_line(line)[0] for line in (raw[:-1] if raw and raw[-1] == b"" else raw)]


def _read_constraints(path: str) -> list[list[str]]:
    """--constraints: a JSON list of strings a line."""
    lists = []
    for number, line in enumerate(_read_lines(path), 1):
        try:
            words = json.loads(line) if line.strip() else []
        except json.JSONDecodeError:
            words = None
        if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
            raise NmtError(f"translate: --constraints {path} line {number} is not a JSON list of strings: {line[:60]!r}")
        lists.append(words)
    return lists


def _score_lines(translator, args: argparse.Namespace) -> None:
    """--score-target: each target line's score as a translation of its input line, a line each."""
    sources, targets = _read_lines(args.input), _read_lines(args.score_target)
    if len(sources) != len(targets):
        raise NmtError(f"translate: --score-target {args.score_target} has {len(targets):,} lines, the input "
                       f"{len(sources):,}: give one target line for each input line")
    tokenizer = translator.tokenizer
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        for start in range(0, len(sources), CHUNK_LINES):
            chunk = slice(start, start + CHUNK_LINES)
            src_ids, _ = translator.encode(sources[chunk])
            scored = translator.score_ids(src_ids, tokenizer.encode_tgt(targets[chunk]))
            out.write("".join(_scored_line(item, tokenizer, args) + "\n" for item in scored))
    finally:
        if args.output:
            out.close()


def _scored_line(item, tokenizer, args: argparse.Namespace) -> str:
    if not (args.json or args.alignments):
        return f"{item.score:.4f}"
    from nmt.translations import forced_record

    return json.dumps(forced_record(item, tokenizer, alignment=args.alignments), ensure_ascii=False)


def _open_input(path: str):
    try:
        return open(path, "rb")
    except OSError as err:
        raise NmtError(f"translate: cannot read {path}: {err.strerror}") from None


def main() -> None:
    run_main("nmt-translate", _main)


if __name__ == "__main__":
    main()
