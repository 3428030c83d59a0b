"""recipes/emoji-captions/local/build_emoji.py: CLDR names in both languages, and the split by unseen
skin-tone combinations (the font's bitmaps are read only by the recipe itself: no download here)."""

from __future__ import annotations

import importlib.util

from conftest import REPO

SCRIPT = REPO / "recipes" / "emoji-captions" / "local" / "build_emoji.py"
spec = importlib.util.spec_from_file_location("build_emoji", SCRIPT)
build_emoji = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_emoji)

TONES = build_emoji.TONES
WAVE, THUMB, CAT = "\U0001F44B", "\U0001F44D", "\U0001F431"


def test_names_come_from_both_annotation_files_and_skip_placeholders(tmp_path):
    for folder, items in (("annotations", [(WAVE, "waving hand"), (CAT, "cat face")]),
                          ("annotationsDerived", [(WAVE + TONES[0], "waving hand: light skin tone"), (THUMB, "↑↑↑")])):
        (tmp_path / "common" / folder).mkdir(parents=True)
        body = "".join(f'<annotation cp="{cp}">a | b</annotation><annotation cp="{cp}" type="tts">{name}</annotation>'
                       for cp, name in items)
        (tmp_path / "common" / folder / "en.xml").write_text(f"<ldml><annotations>{body}</annotations></ldml>",
                                                              encoding="utf-8")
    assert build_emoji.read_names(tmp_path, "en") == {WAVE: "waving hand", CAT: "cat face",
                                                     WAVE + TONES[0]: "waving hand: light skin tone"}


def test_each_five_tone_base_holds_out_one_tone_for_test_and_another_for_dev():
    bases = [WAVE, THUMB, CAT + "\u200d\u2b1b"]  # the third has no tones
    emoji = [base + tone for base in bases[:2] for tone in TONES] + bases + [WAVE + TONES[0] + TONES[1]]
    emoji += ["\U0001F9D1" + t for t in TONES[:4]]  # only four tones: nothing held out
    chosen = build_emoji.split(emoji)
    for base in bases[:2]:
        held = {chosen[base + tone] for tone in TONES}
        assert held == {"train", "dev", "test"}
        assert [chosen[base + t] for t in TONES].count("test") == 1 == [chosen[base + t] for t in TONES].count("dev")
    tested = [next(t for t in TONES if chosen[base + t] == "test") for base in bases[:2]]
    assert tested[0] != tested[1]  # the held-out tone rotates over the bases
    assert all(chosen[item] == "train" for item in emoji if build_emoji.tone_of(item)[1] is None or
               item.startswith("\U0001F9D1"))
    for tone in TONES:  # every held-out tone and base is seen in training with something else
        assert any(chosen[e] == "train" and tone in e for e in emoji)


def test_the_three_vendors_file_names_meet_on_one_key(tmp_path):
    """Twemoji drops leading zeros and FE0F, OpenMoji keeps both in upper case: one emoji, one key."""
    for vendor, name in (("twemoji", "23-20e3"), ("openmoji", "0023-FE0F-20E3"), ("plain", "1F469-1F3FD-200D-1F52C")):
        (tmp_path / vendor).mkdir()
        (tmp_path / vendor / f"{name}.svg").write_text("<svg/>")
    (tmp_path / "openmoji" / "E0A1.svg").write_text("<svg/>")  # an extra of the vendor's own: kept apart
    (tmp_path / "openmoji" / "logo.svg").write_text("<svg/>")
    keycap = build_emoji.key("#\ufe0f\u20e3")
    assert keycap == "23-20e3"
    assert set(build_emoji.svg_files(tmp_path / "twemoji")) == {keycap}
    assert set(build_emoji.svg_files(tmp_path / "openmoji")) == {keycap, "e0a1"}
    assert set(build_emoji.svg_files(tmp_path / "plain")) == {build_emoji.key("\U0001F469\U0001F3FD\u200d\U0001F52C")}
