#!/usr/bin/env python3
"""Translation speed, memory and agreement of one trained model as torch, int8 torch, its export, the
int8 export and the export as nmt-translate runs it by default (the variant nmt-export chose on dev),
beside the same model under an earlier checkout of nmt (a git worktree): issue 45's table.

    python tools/bench_translate.py --model recipes/ding-de-en/exp/rnnsearch --baseline d395ab1
    python tools/bench_translate.py --model EXP --sentences 100 --json bench_translate.json
    python tools/bench_translate.py --model EXP --shortlist     # also int8 with the shortlist (nmt-shortlist --model EXP first)
    python tools/bench_translate.py --model EXP --peer ONMT_PYTHON ONMT_MODEL   # and OpenNMT-py's onmt_translate
    python tools/bench_translate.py --model EXP --bf16          # also torch with decode.precision: bf16

Each row runs in fresh processes (its own peak memory): sentences/s greedy and beam 5 over the test
sentences (model loaded, a 20-sentence warm-up, then timed), one-sentence latency at beam 5 (p50,
p95 over the first 100 sentences, one at a time), start-up to the first translation of one sentence
(process start included; the median of three), peak RSS, BLEU against the references when given,
and the share of beam-5 translations identical to this checkout's torch fp32 ones.

The peer row (--peer: the interpreter OpenNMT-py is installed in, and a model it trained on the same
SentencePiece pieces) runs onmt_translate with the same batches (4,000 tokens) and beam; its
sentences/s are over the translation time it reports itself (-report_time: loading left out, as
here), its output decoded with the experiment's SentencePiece model.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SYSTEMS = ("baseline", "torch", "torch int8", "export", "export int8", "export default")  # default: nmt-export's choice


def _translator(system: str, model: str, beam: int):
    """In a child: the translator `system` names (the baseline is torch under its own checkout)."""
    extra: dict = {}  # the baseline's translators take no shortlist (nor has it nmt.shortlist)
    if system.startswith("export"):
        from nmt.runtime.translate import ExportedTranslator, load_exports

        # "export default": int8 and the shortlist as nmt-export chose them on dev
        loaded = load_exports([model], int8=None if system == "export default" else "int8" in system)
        decode = loaded.cfg.decode
        decode.shortlist = decode.shortlist or system.endswith("shortlist")
        decode.beam_size, decode.nbest = beam, 1
        return ExportedTranslator(loaded.model, loaded.tokenizer, decode=decode, shortlist=loaded.shortlist_for(decode))
    if system.endswith("shortlist"):
        from nmt.shortlist import Shortlist

        extra["shortlist"] = Shortlist.load(Path(model))
    from nmt.cli.common import limit_threads

    limit_threads()
    from nmt.tasks import load_trained
    from nmt.translate import Translator

    loaded = load_trained(model, task="translation")
    net = loaded.model
    if "int8" in system:
        from nmt.models.seq2seq import quantize_int8

        net = quantize_int8(net)
    decode = loaded.cfg.decode
    decode.beam_size, decode.nbest = beam, 1
    if system.endswith("bf16"):
        decode.precision = "bf16"
    return Translator(net, loaded.tokenizer, decode=decode, **extra)


def child(system: str, model: str, mode: str, source: Path, limit: int) -> dict:
    """One measurement in this process: 'greedy' or 'beam' throughput, 'latency' or 'startup'."""
    lines = source.read_text(encoding="utf-8").splitlines()[:limit]
    translator = _translator(system, model, 1 if mode == "greedy" else 5)
    if mode == "startup":
        translator.translate(lines[:1])
        return {}
    if mode == "latency":
        translator.translate(lines[:5])  # warm-up
        seconds = []
        for line in lines[:100]:
            start = time.perf_counter()
            translator.translate([line])
            seconds.append(time.perf_counter() - start)
        seconds.sort()
        return {"p50_ms": 1000 * seconds[len(seconds) // 2], "p95_ms": 1000 * seconds[int(0.95 * (len(seconds) - 1))]}
    translator.translate(lines[:20])  # warm-up
    start = time.perf_counter()
    results = translator.translate(lines)
    elapsed = time.perf_counter() - start
    return {"sentences_per_sec": len(lines) / elapsed, "seconds": elapsed, "sentences": len(lines),
            "translations": [result[0].text for result in results]}


def _peer_row(python: str, model: str, args: argparse.Namespace, references: Path | None) -> dict:
    """onmt_translate on the test sentences' pieces, greedy and beam 5: sentences/s over its own reported
    translation time, and BLEU of the beam output."""
    import re

    import sentencepiece

    pieces = sentencepiece.SentencePieceProcessor(model_file=str(args.model / "spm.model"))
    lines = args.source.read_text(encoding="utf-8").splitlines()[: args.sentences]
    row: dict = {}
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "src.txt"
        source.write_text("".join(" ".join(pieces.encode(line, out_type=str)) + "\n" for line in lines), encoding="utf-8")
        for mode, beam in (("greedy", 1), ("beam", 5)):
            output = Path(work) / f"{mode}.txt"
            command = [python, "-m", "onmt.bin.translate", "-model", model, "-src", str(source), "-output", str(output),
                       "-beam_size", str(beam), "-batch_size", "4000", "-batch_type", "tokens", "-report_time"]
            # OpenNMT-py 3.5.1 unpickles its own checkpoints (an argparse.Namespace inside), which torch >= 2.6
            # refuses by default: allowed for the peer's model alone, one this machine trained
            result = subprocess.run(command, capture_output=True, text=True,
                                    env={**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
            seconds = re.search(r"Total translation time \(s\): ([0-9.]+)", result.stdout + result.stderr)
            if result.returncode != 0 or seconds is None:
                sys.exit(f"bench_translate: onmt_translate {mode} failed:\n{result.stderr[-3000:]}")
            row[mode] = {"sentences_per_sec": len(lines) / float(seconds.group(1)), "seconds": float(seconds.group(1))}
            row["translations"] = [pieces.decode(line.split()) for line in output.read_text(encoding="utf-8").splitlines()]
    row["bleu"] = _bleu(row["translations"], references)
    return row


def _run_child(system: str, model: str, mode: str, args: argparse.Namespace, pythonpath: str) -> dict:
    started = time.perf_counter()
    report: dict
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, __file__, "--child", system, "--child-mode", mode, "--model", model,
                   "--source", str(args.source), "--sentences", str(args.sentences), "--child-out", out.name]
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": pythonpath})
        if result.returncode != 0:
            sys.exit(f"bench_translate: {system} {mode} failed:\n{result.stderr[-3000:]}")
        report = json.loads(Path(out.name).read_text())
    report["wall_seconds"] = time.perf_counter() - started
    return report


def _baseline_checkout(revision: str) -> Path:
    """A worktree of `revision` beside the temporary files (made once, reused)."""
    path = Path(tempfile.gettempdir()) / f"nmt-baseline-{revision}"
    if not path.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), revision], check=True,
                       capture_output=True)
    return path


def _bleu(hypotheses: list[str], references: Path | None) -> float | None:
    if references is None:
        return None
    import sacrebleu

    refs = references.read_text(encoding="utf-8").splitlines()[: len(hypotheses)]
    return float(sacrebleu.corpus_bleu(hypotheses, [refs]).score)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "recipes" / "ding-de-en" / "exp" / "rnnsearch")
    parser.add_argument("--source", type=Path, default=REPO / "recipes" / "ding-de-en" / "data" / "test.de")
    parser.add_argument("--references", type=Path, default=REPO / "recipes" / "ding-de-en" / "data" / "test.en")
    parser.add_argument("--baseline", default=None, metavar="REV", help="also the model under this git revision of nmt")
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--shortlist", action="store_true",
                        help="also int8 torch and the int8 export with the model's shortlist (nmt-shortlist first)")
    parser.add_argument("--peer", nargs=2, default=None, metavar=("PYTHON", "MODEL"),
                        help="also onmt_translate: OpenNMT-py's interpreter and a model of it on the same pieces")
    parser.add_argument("--bf16", action="store_true", help="also torch with decode.precision: bf16")
    parser.add_argument("--json", type=Path, default=Path("bench_translate.json"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-mode", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measured = child(args.child, str(args.model), args.child_mode, args.source, args.sentences)
        measured["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        Path(args.child_out).write_text(json.dumps(measured))
        return
    references = args.references if args.references.exists() else None
    export_dir = Path(tempfile.mkdtemp(prefix="nmt-export-"))
    subprocess.run([sys.executable, "-m", "nmt.cli.export", "--model", str(args.model), "--out", str(export_dir)],
                   check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    systems = [s for s in SYSTEMS if s != "baseline" or args.baseline]
    systems += ["torch int8 shortlist", "export int8 shortlist"] if args.shortlist else []
    systems += ["torch bf16"] if args.bf16 else []
    report: dict = {"model": str(args.model), "sentences": args.sentences, "baseline": args.baseline, "rows": {}}
    print("| system | greedy sent/s | beam 5 sent/s | beam 5 p50 / p95 ms | start-up s | peak RSS MB | BLEU | same as torch |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    reference_translations: list[str] | None = None
    peer = _peer_row(args.peer[0], args.peer[1], args, references) if args.peer else None  # first: fails early
    for system in systems:
        model = str(export_dir) if system.startswith("export") else str(args.model)
        pythonpath = str(_baseline_checkout(args.baseline)) if system == "baseline" else str(REPO)
        row: dict = {mode: _run_child(system, model, mode, args, pythonpath) for mode in ("greedy", "beam", "latency")}
        starts = sorted((_run_child(system, model, "startup", args, pythonpath) for _ in range(3)),
                        key=lambda run: run["wall_seconds"])
        row["startup"] = starts[1]  # the median of three: one start can be slowed by a cold disk cache
        translations = row["beam"].pop("translations")
        row["greedy"].pop("translations")
        if system == "torch":
            reference_translations = translations
        row["bleu"] = _bleu(translations, references)
        row["translations"] = translations
        report["rows"][system] = row
    if peer is not None:
        report["rows"]["OpenNMT-py"] = peer
    for system, row in report["rows"].items():
        if system == "OpenNMT-py":
            print(f"| {system} | {row['greedy']['sentences_per_sec']:.1f} | {row['beam']['sentences_per_sec']:.1f} | - | - "
                  f"| - | {row['bleu']:.2f} | - |")
            row.pop("translations")
            continue
        same = (sum(a == b for a, b in zip(row.pop("translations"), reference_translations or []))
                / max(len(reference_translations or []), 1))
        row["same_as_torch"] = same
        peak = max(row[mode]["peak_rss_mb"] for mode in ("greedy", "beam", "latency"))
        bleu = f"{row['bleu']:.2f}" if row["bleu"] is not None else "-"
        print(f"| {system} | {row['greedy']['sentences_per_sec']:.1f} | {row['beam']['sentences_per_sec']:.1f} | "
              f"{row['latency']['p50_ms']:.1f} / {row['latency']['p95_ms']:.1f} | {row['startup']['wall_seconds']:.2f} | "
              f"{peak:.0f} | {bleu} | {100 * same:.1f} % |")
    args.json.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
