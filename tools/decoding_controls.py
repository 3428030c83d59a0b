#!/usr/bin/env python3
"""The decoding controls of docs/translation.md measured on a test set (issue 46's figures):

- terminology: for each test sentence, one dictionary entry whose German word is in the source and
  whose English translation is in the reference becomes a required word; how often it appears, and
  BLEU on those sentences, without and with the constraint, and the speed of each;
- prefixes: the first half of each reference (in words) as the prefix: next-word accuracy, BLEU of
  the completions against the reference's second half, and how often the prefix is kept verbatim;
- forced decoding: scoring the test pairs against translating them greedily, in seconds, and the
  scores' sum against the teacher-forced loss;
- inline tags (`--tagged PREFIX`: PREFIX.de and PREFIX.en with their markup, as the Debian recipe's
  data/test.tagged): how many outputs are well formed with every source tag once, and how the pairs
  enclose what the reference's enclose (exact words, word F1), beside the baseline that keeps the tags
  at the sentence's ends.

    python tools/decoding_controls.py --model recipes/ding-de-en/exp/rnnsearch \\
        --data recipes/ding-de-en/data --lexicon recipes/ding-de-en/data/lexicon
    python tools/decoding_controls.py --model recipes/debian-de-en/exp/rnnsearch_35min \
        --data recipes/debian-de-en/data --tagged recipes/debian-de-en/data/test.tagged
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import sacrebleu


def _words(text: str) -> list[str]:
    return [word.strip(".,;:!?\"'()").lower() for word in text.split()]


def terminology_pairs(sources: list[str], references: list[str], lexicon: Path) -> dict[int, str]:
    """Sentence index -> the required English word: the first single-word entry that links a source word
    to a reference word (and is not the same word on both sides, which a copy would satisfy)."""
    entries: dict[str, set[str]] = {}
    for de, en in zip(lexicon.with_suffix(".de").read_text(encoding="utf-8").splitlines(),
                      lexicon.with_suffix(".en").read_text(encoding="utf-8").splitlines()):
        if len(de.split()) == 1 and len(en.split()) == 1 and de.lower() != en.lower():
            entries.setdefault(de.lower(), set()).add(en.lower())
    chosen = {}
    for index, (source, reference) in enumerate(zip(sources, references)):
        wanted = set(_words(reference))
        for word in _words(source):
            hits = sorted(entries.get(word, set()) & wanted)
            if hits:
                chosen[index] = next(w for w in reference.split() if w.strip(".,;:!?\"'()").lower() == hits[0]).strip(
                    ".,;:!?\"'()")
                break
    return chosen


def _bleu(hypotheses: list[str], references: list[str]) -> float:
    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)


def tag_figures(beam, prefix: Path) -> dict:
    """Well-formedness and placement of `nmt-translate --tags`' outputs against the references', and of the
    same translations with the tags at the sentence's ends."""
    from nmt.tags import placement, project, strip_tags, well_formed

    sources = Path(f"{prefix}.de").read_text(encoding="utf-8").splitlines()
    references = Path(f"{prefix}.en").read_text(encoding="utf-8").splitlines()
    start = time.perf_counter()
    results = beam.translate(sources, tags=True)
    seconds = time.perf_counter() - start
    tagged = [r[0].text for r in results]
    at_ends = []
    for source, result in zip(sources, results):
        pieces = lambda side, ids: [side.id_to_piece(int(i)) for i in ids]  # noqa: E731
        at_ends.append(project(pieces(beam.tokenizer.src, result[0].source), pieces(beam.tokenizer.tgt, result[0].tokens),
                               None, strip_tags(source)[1]))
    figures: dict = {"pairs": len(sources), "seconds": seconds}
    for name, outputs in (("attention", tagged), ("sentence_ends", at_ends)):
        scores = [placement(out, ref) for out, ref in zip(outputs, references)]
        compared = sum(c for c, _, _ in scores)
        figures[name] = {"well_formed": 100 * sum(map(well_formed, sources, outputs)) / max(len(sources), 1),
                         "pairs_compared": compared, "exact_span": 100 * sum(e for _, e, _ in scores) / max(compared, 1),
                         "span_f1": 100 * sum(f for _, _, f in scores) / max(compared, 1),
                         "bleu_without_tags": _bleu([strip_tags(o)[0] for o in outputs],
                                                    [strip_tags(r)[0] for r in references])}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="a folder with test.de and test.en")
    parser.add_argument("--lexicon", type=Path, default=None, help="LEXICON.de and LEXICON.en: dictionary entries")
    parser.add_argument("--tagged", type=Path, default=None, help="PREFIX.de and PREFIX.en: pairs with inline tags")
    parser.add_argument("--json", type=Path, default=Path("decoding_controls.json"))
    args = parser.parse_args()
    from nmt.cli.common import limit_threads

    limit_threads()
    from nmt.tasks import load_trained
    from nmt.translate import Translator

    loaded = load_trained(args.model, task="translation")
    sources = (args.data / "test.de").read_text(encoding="utf-8").splitlines()
    references = (args.data / "test.en").read_text(encoding="utf-8").splitlines()
    beam = Translator(loaded.model, loaded.tokenizer, decode=loaded.cfg.decode, keep_attention=args.tagged is not None)
    report: dict = {"model": str(args.model), "sentences": len(sources), "beam": loaded.cfg.decode.beam_size}

    if args.lexicon is not None:
        chosen = terminology_pairs(sources, references, args.lexicon)
        lines = [sources[i] for i in chosen]
        refs = [references[i] for i in chosen]
        terms = [[chosen[i]] for i in chosen]
        start = time.perf_counter()
        plain = [r[0].text for r in beam.translate(lines)]
        plain_seconds = time.perf_counter() - start
        start = time.perf_counter()
        constrained = [r[0].text for r in beam.translate(lines, constraints=terms)]
        constrained_seconds = time.perf_counter() - start
        has = lambda outputs: 100 * sum(t[0].lower() in o.lower() for o, t in zip(outputs, terms)) / max(len(terms), 1)  # noqa: E731
        report["terminology"] = {"sentences_with_a_term": len(chosen), "term_present_plain": has(plain),
                                 "term_present_constrained": has(constrained), "bleu_plain": _bleu(plain, refs),
                                 "bleu_constrained": _bleu(constrained, refs), "seconds_plain": plain_seconds,
                                 "seconds_constrained": constrained_seconds}

    if args.tagged is not None:
        report["tags"] = tag_figures(beam, args.tagged)

    halves = [" ".join(ref.split()[: len(ref.split()) // 2]) for ref in references]
    prefixed = [r[0].text for r in beam.translate(sources, prefixes=halves)]
    kept = sum(out.startswith(half) for out, half in zip(prefixed, halves))
    next_right, asked, completions, rests = 0, 0, [], []
    for out, half, ref in zip(prefixed, halves, references):
        rest_out, rest_ref = out[len(half):].split(), ref.split()[len(half.split()):]
        completions.append(" ".join(rest_out))
        rests.append(" ".join(rest_ref))
        if half and rest_ref:
            asked += 1
            next_right += bool(rest_out) and rest_out[0] == rest_ref[0]
    report["prefixes"] = {"kept_verbatim": 100 * kept / len(sources), "next_word_accuracy": 100 * next_right / max(asked, 1),
                          "completion_bleu": _bleu(completions, rests)}

    greedy = Translator(loaded.model, loaded.tokenizer, decode=dataclasses.replace(loaded.cfg.decode, method="greedy"))
    ids = loaded.tokenizer.encode_src(sources)
    targets = loaded.tokenizer.encode_tgt(references)
    start = time.perf_counter()
    greedy.translate_ids(ids)
    greedy_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scored = greedy.score_ids(ids, targets)
    report["forced"] = {"seconds_greedy": greedy_seconds, "seconds_scoring": time.perf_counter() - start,
                        "mean_score": sum(s.score for s in scored) / len(scored)}
    args.json.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
