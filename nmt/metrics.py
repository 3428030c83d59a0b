"""sacreBLEU scores with their signatures, overall, by source-length bucket and by group (a corpus's origin)."""

from __future__ import annotations

import bisect
from typing import Sequence

from sacrebleu.metrics import BLEU, CHRF

from nmt.errors import NmtError


def _check_lengths(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    for i, ref in enumerate(references, start=1):
        if len(ref) != len(hypotheses):
            raise NmtError(f"score: {len(hypotheses)} hypotheses but reference {i} has {len(ref)} lines")


def corpus_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict:
    """BLEU and chrF of detokenized text against one or more reference streams."""
    _check_lengths(hypotheses, references)
    bleu, chrf = BLEU(), CHRF()
    bleu_score = bleu.corpus_score(list(hypotheses), [list(r) for r in references])
    chrf_score = chrf.corpus_score(list(hypotheses), [list(r) for r in references])
    return {
        "bleu": round(bleu_score.score, 2),
        "chrf": round(chrf_score.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "bleu_details": str(bleu_score),
    }


def _scores_of_parts(hypotheses: Sequence[str], references: Sequence[str], parts: dict[str, list[int]],
                     label: str) -> list[dict]:
    """BLEU and chrF of each part of the test set (parts maps a part's name to its line numbers)."""
    rows = []
    for name, lines in parts.items():
        hyps, refs = [hypotheses[i] for i in lines], [[references[i] for i in lines]]
        rows.append({label: name, "sentences": len(lines),
                     "bleu": round(BLEU().corpus_score(hyps, refs).score, 2),
                     "chrf": round(CHRF().corpus_score(hyps, refs).score, 2)})
    return rows


def scores_by_length(hypotheses: Sequence[str], references: Sequence[str], sources: Sequence[str],
                     edges: Sequence[int] = (10, 20, 30, 40, 50)) -> list[dict]:
    """BLEU and chrF per bucket of source length in words (as Bahdanau et al. 2014, Fig. 2).

    Buckets are [0, e1), [e1, e2), ..., [e_last, inf); empty buckets are left out.
    """
    _check_lengths(hypotheses, [references, sources])
    labels = [f"{low}-{high - 1}" for low, high in zip([0, *edges], edges)] + [f"{edges[-1]}+"]
    members: dict[str, list[int]] = {label: [] for label in labels}
    for i, source in enumerate(sources):
        members[labels[bisect.bisect_right(edges, len(source.split()))]].append(i)
    return _scores_of_parts(hypotheses, references, {label: lines for label, lines in members.items() if lines}, "bucket")


def scores_by_group(hypotheses: Sequence[str], references: Sequence[str], groups: Sequence[str]) -> list[dict]:
    """BLEU and chrF of each group of lines (groups[i] names line i's group, e.g. the corpus it came
    from), in the order the groups first appear."""
    _check_lengths(hypotheses, [references, groups])
    members: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        members.setdefault(group.strip(), []).append(i)
    return _scores_of_parts(hypotheses, references, members, "group")
