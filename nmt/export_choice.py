"""Which of an export's variants nmt-translate and nmt-serve run when nothing is asked for: the cheapest
whose BLEU on the experiment's dev set holds within 0.1 of the fp32 graphs' (issue 45's rule for cheaper
arithmetic). nmt-export measures it once and writes the choice and the figures into export.json:

    "default": {"int8": true, "shortlist": true, "dev_bleu": {"fp32": 6.11, "int8": 6.08, ...}, "sentences": 1000}

int8 changes some translations (a fifth on the Ding model), so the choice is the model's own, made on
its dev set; a variant that scores higher than fp32 holds. `--quantize none` and
`--set decode.shortlist=false` give the fp32 graphs, which translate as torch does.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from nmt.data import read_lines

TOLERANCE = 0.1  # BLEU a cheaper variant may lose against fp32 on dev
MAX_SENTENCES = 2000  # of the dev set: enough to see a 0.1 BLEU loss, and the export stays quick
VARIANTS = (("int8", True, True), ("int8", True, False), ("shortlist", False, True))  # cheapest first
NONE = {"int8": False, "shortlist": False}


def variant_name(int8: bool, shortlist: bool) -> str:
    return "+".join(name for name, on in (("int8", int8), ("shortlist", shortlist)) if on) or "fp32"


def choose_default(out: Path, exp_dir: Path) -> dict:
    """Translates the first dev sentences with every variant `out` holds (the experiment's decode
    settings) and returns the choice for export.json; fp32 where the experiment has no dev set."""
    data = Path(exp_dir) / "data"
    if not (data / "dev.src").exists() or not (data / "dev.tgt").exists():
        return {**NONE, "reason": f"{data} has no dev.src and dev.tgt to check int8 and the shortlist on"}
    sources = list(read_lines(data / "dev.src"))[:MAX_SENTENCES]
    references = list(read_lines(data / "dev.tgt"))[:MAX_SENTENCES]
    if not sources or len(sources) != len(references):
        return {**NONE, "reason": f"{data}/dev.src and dev.tgt hold {len(sources)} and {len(references)} lines"}
    available = [(int8, shortlist) for _, int8, shortlist in VARIANTS
                 if (not int8 or (out / "step.int8.onnx").exists())
                 and (not shortlist or (out / "step.shortlist.onnx").exists())]
    if not available:
        return {**NONE, "reason": "the export has no int8 graphs and no shortlist"}
    bleu = {"fp32": _dev_bleu(out, sources, references, int8=False, shortlist=False)}
    for int8, shortlist in available:
        bleu[variant_name(int8, shortlist)] = _dev_bleu(out, sources, references, int8=int8, shortlist=shortlist)
    chosen = next(((int8, shortlist) for int8, shortlist in available
                   if bleu[variant_name(int8, shortlist)] >= bleu["fp32"] - TOLERANCE), (False, False))
    return {"int8": chosen[0], "shortlist": chosen[1], "dev_bleu": bleu, "sentences": len(sources)}


def _dev_bleu(out: Path, sources: list[str], references: list[str], *, int8: bool, shortlist: bool) -> float:
    from nmt.metrics import corpus_scores
    from nmt.runtime.translate import ExportedTranslator, load_exports

    loaded = load_exports([out], int8=int8)
    saved = loaded.cfg.decode  # as the export translates it: fp32 arithmetic around the graphs, a search
    decode = dataclasses.replace(saved, shortlist=shortlist, precision="fp32",
                                 method="beam" if saved.method == "sample" else saved.method)
    translator = ExportedTranslator(loaded.model, loaded.tokenizer, decode=decode, shortlist=loaded.shortlist_for(decode))
    hypotheses = [result[0].text for result in translator.translate(sources)]
    return float(corpus_scores(hypotheses, [references])["bleu"])


def write_default(directory: Path, choice: dict) -> None:
    """The choice into the export's export.json, replaced whole (a reader sees the old file or the new)."""
    manifest_path = Path(directory) / "export.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["default"] = choice
    partial = manifest_path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    partial.replace(manifest_path)


def describe(choice: dict) -> str:
    """One line for nmt-export's report."""
    if "dev_bleu" not in choice:
        return f"translates in fp32 by default ({choice.get('reason', 'no check')})"
    figures = ", ".join(f"{name} {value:.2f}" for name, value in choice["dev_bleu"].items())
    return (f"dev BLEU ({choice['sentences']:,} sentences) {figures}: translates with "
            f"{variant_name(choice['int8'], choice['shortlist'])} by default "
            "(--quantize none --set decode.shortlist=false for fp32)")
