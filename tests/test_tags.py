"""Inline tags through translation (nmt/tags.py): taken out, put back where attention links them,
and always well formed with every tag once."""

from __future__ import annotations

import random
import re
import subprocess
import sys

import numpy as np

from nmt.tags import TAG, placement, project, strip_tags, well_formed


def test_tags_come_out_as_a_forest_over_the_plain_text():
    plain, spans = strip_tags('<b>Haus</b> und <i>die <u>Katze</u></i><br/> a<b . </x>')
    assert plain == "Haus und die Katze a<b . "  # a "<" that opens no tag is text
    assert [(s.opening, s.start, s.end) for s in spans] == [("<b>", 0, 4), ("<i>", 9, 18), ("<br/>", 18, None),
                                                           ("</x>", 25, None)]
    assert [(c.opening, c.start, c.end) for c in spans[1].children] == [("<u>", 13, 18)]


def test_pairs_follow_the_attention_across_a_reordering():
    _, spans = strip_tags('<b>Haus</b> und <i>die <u>Katze</u></i><br/> .')
    attention = np.zeros((5, 6))
    for target, source in enumerate([2, 3, 1, 0, 4]):  # the cat and house .
        attention[target, source] = 1
    out = project(["▁Haus", "▁und", "▁die", "▁Katze", "▁."], ["▁the", "▁cat", "▁and", "▁house", "▁."], attention, spans)
    assert out == "<i>the <u>cat</u></i> and <b>house</b> <br/>."
    assert project(["▁Haus", "▁und"], ["▁house", "▁and"], None, strip_tags("<b>Haus</b> und<br/>")[1]) == \
        "<b>house and</b><br/>"  # no attention: at the sentence's ends


def test_any_attention_gives_well_formed_output_with_every_tag_once():
    rng = random.Random(0)
    words = ["▁a", "▁b", "▁c", "▁d", "▁e", "▁f"]
    for _ in range(200):
        text, opened = "", []
        for word in words:
            if rng.random() < 0.3:
                tag = rng.choice("xyz")
                text, opened = text + f"<{tag}>", opened + [tag]
            text += word.replace("▁", " ")
            if opened and rng.random() < 0.4:
                text += f"</{opened.pop()}>"
            if rng.random() < 0.1:
                text += "<br/>"
        text += "".join(f"</{tag}>" for tag in reversed(opened))  # a well-formed source
        plain, spans = strip_tags(text.strip())
        target = rng.sample(words, rng.randint(1, 6))
        out = project(words, target, np.random.default_rng(rng.randrange(99)).random((len(target), 7)), spans)
        assert well_formed(text.strip(), out), (text, out)
        assert sorted(TAG.findall(out)) == sorted(TAG.findall(text.strip()))  # every tag, once
        assert re.sub(TAG, "", out) == "".join(target).replace("▁", " ").strip()


def test_well_formed_wants_every_tag_once_and_pairs_nested():
    source = '<b>a</b> <i>b</i><br> c</x>'  # <br> never closed and </x> never opened: both stand alone
    assert well_formed(source, '</x><i>B</i> <br><b>A</b> C')
    assert not well_formed(source, '<i>B</i> <br><b>A</b> C')  # </x> lost
    assert not well_formed(source, '</x><i>B</i> <br><b>A</b> <b>C</b>')  # <b> twice
    assert not well_formed(source, '</x><i>B <b></i> <br>A</b> C')  # crossed
    assert not well_formed(source, '</x></i>B<i> <br><b>A</b> C')  # closed before opened


def test_placement_compares_the_words_each_pair_encloses():
    reference = '<a href="en">Open</a> the <b>red file</b> now'
    assert placement('<a href="de">Open</a> the <b>red file</b> now', reference) == (2, 2, 2.0)  # matched by name
    compared, exact, f1 = placement('<a href="de">Open</a> the <b>red</b> file now', reference)
    assert (compared, exact, round(f1, 3)) == (2, 1, round(1 + 2 * 1 / 3, 3))
    assert placement('<b>Open the red file now</b>', '<b>Open the red file now</b>')[0] == 0  # the whole: not counted
    assert placement('Open the red file now<a href="x"></a><b></b>', reference) == (2, 0, 0.0)


def test_nmt_translate_keeps_tags(model_dir):
    lines = "<b>haus</b> und <i>katze</i> .<br/>\nhund .\n<a href=\"x\">baum</a>\n"
    result = subprocess.run([sys.executable, "-m", "nmt.cli.translate", "--model", str(model_dir), "--tags"],
                            input=lines, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert len(out) == 3 and all(well_formed(src, line) for src, line in zip(lines.splitlines(), out))
    assert sorted(TAG.findall(out[0])) == sorted(TAG.findall(lines.splitlines()[0])) and '<a href="x">' in out[2]
