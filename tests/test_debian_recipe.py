"""The Debian corpus extractors and the split, on small files in the packages' formats."""

from __future__ import annotations

import struct
import subprocess
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "recipes" / "debian-de-en" / "local"))

from build_corpus import assemble, split_of  # noqa: E402
from sources import (  # noqa: E402
    description_english,
    description_pairs,
    libreoffice_help_pairs,
    libreoffice_help_tagged,
    read_mo,
    ui_pairs,
)

PAGE = """<html><body><div id="DisplayArea">
<h1 id="hd_1" dir="auto">{title}</h1>
<p id="par_1" class="paragraph">{open} <span class="switchinline"><span hidden="true" class="MAC"><span class="emph">{mac}</span></span><span hidden="true" id="default_1"><span class="emph">{other}</span></span></span>.</p>
<p class="paragraph">no id: left out</p>
<p id="par_2">  {same}  </p>
<div class="embedded"><p id="par_3">{first}</p></div><div class="embedded"><p id="par_3">{second}</p></div>
</div></body></html>"""


def test_help_pages_pair_by_id_without_macos_text(tmp_path):
    en_root, de_root = tmp_path / "en-US" / "text", tmp_path / "de" / "text"
    (en_root / "shared").mkdir(parents=True)
    (de_root / "shared").mkdir(parents=True)
    (en_root / "shared" / "page.html").write_text(PAGE.format(
        title="Find Bar", open="Choose", mac="LibreOffice - Preferences", other="Tools -\n  Options",
        same="LibreOffice", first="One", second="Two"))
    (de_root / "shared" / "page.html").write_text(PAGE.format(
        title="Suchleiste", open="Wählen Sie", mac="LibreOffice - Einstellungen", other="Extras - Optionen",
        same="LibreOffice", first="Eins", second="Zwei"))
    (en_root / "shared" / "only_english.html").write_text(PAGE)
    pairs = list(libreoffice_help_pairs(tmp_path / "en-US", tmp_path / "de"))
    assert pairs == [("Suchleiste", "Find Bar"), ("Wählen Sie Extras - Optionen.", "Choose Tools - Options."),
                     ("Eins", "One"), ("Zwei", "Two")]


def test_tagged_help_keeps_inline_markup_where_both_sides_carry_the_same_tags(tmp_path):
    page = '<html><body><p id="a">{a}</p><p id="b">{b}</p><p id="c">{c}</p></body></html>'
    for language, texts in (("en-US", dict(a='Click <span class="emph">OK</span>.<br>Done <img src="x.png">',
                                            b="<b>Bold</b> text", c="Plain")),
                            ("de", dict(a='Klicken Sie auf <span class="emph">OK</span>.<br>Fertig <img src="x.png">',
                                        b="Fetter Text", c="Schlicht"))):
        (tmp_path / language).mkdir()
        (tmp_path / language / "page.html").write_text(page.format(**texts))
    assert list(libreoffice_help_tagged(tmp_path / "en-US", tmp_path / "de")) == [  # b: tags on one side only
        (("Klicken Sie auf OK. Fertig", "Click OK. Done"),
         ('Klicken Sie auf <span class="emph">OK</span>.<br/>Fertig <img src="x.png"/>',
          'Click <span class="emph">OK</span>.<br/>Done <img src="x.png"/>'))]


TRANSLATION_EN = """Package: tool
Description-md5: aaa
Description-en: a fine tool
 It does one thing.
 Well.
 .
 Features:
   * speed
   * size
 .
 The last paragraph.

Package: other
Description-md5: bbb
Description-en: another tool
 One paragraph
 .
 and a second.

Package: lonely
Description-md5: ccc
Description-en: no German here
 A paragraph nobody translated.
 .
 Features:
   * preformatted
 .
 a fine tool
"""
TRANSLATION_DE = """Package: tool
Description-md5: aaa
Description-de: ein feines Werkzeug
 Es tut eine Sache.
 Gut.
 .
 Funktionen:
   * Tempo
   * Größe
 .
 Der letzte Absatz.

Package: other
Description-md5: bbb
Description-de: ein anderes Werkzeug
 Ein einziger Absatz.
"""


def test_descriptions_pair_short_and_matching_paragraphs(tmp_path):
    (tmp_path / "en").write_text(TRANSLATION_EN)
    (tmp_path / "de").write_text(TRANSLATION_DE)
    pairs = list(description_pairs(tmp_path / "en", tmp_path / "de"))
    assert pairs == [
        ("ein feines Werkzeug", "a fine tool"),
        ("Es tut eine Sache. Gut.", "It does one thing. Well."),
        ("Der letzte Absatz.", "The last paragraph."),  # the preformatted list is left out
        ("ein anderes Werkzeug", "another tool"),  # 1 paragraph against 2: the short description only
    ]


def test_monolingual_english_is_the_untranslated_descriptions_less_the_parallel_text(tmp_path):
    (tmp_path / "en").write_text(TRANSLATION_EN)
    (tmp_path / "de").write_text(TRANSLATION_DE)
    assert list(description_english(tmp_path / "en", tmp_path / "de")) == [
        "no German here", "A paragraph nobody translated.", "a fine tool"]  # no preformatted paragraph
    lists, data = tmp_path / "lists", tmp_path / "data"
    lists.mkdir(), data.mkdir()
    (lists / "deb_main_i18n_Translation-en").write_text(TRANSLATION_EN)
    (lists / "deb_main_i18n_Translation-de").write_text(TRANSLATION_DE)
    for split in ("train", "dev", "test"):
        (data / f"{split}.en").write_text("a fine tool\n" if split == "test" else "x\n")
    script = REPO / "recipes" / "debian-de-en" / "local" / "monolingual.py"
    result = subprocess.run([sys.executable, str(script), str(lists), str(data), str(data / "mono.en")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # "a fine tool" is a test sentence; "no German here" has three words and stays
    assert sorted((data / "mono.en").read_text().splitlines()) == ["A paragraph nobody translated.", "no German here"]
    assert "2 English lines of 3 untranslated package descriptions" in result.stdout


def write_mo(path, entries: list[tuple[str, str]]) -> None:
    """A little-endian gettext catalogue, as msgfmt writes it (entries sorted by msgid)."""
    entries = sorted(entries)
    ids = [m.encode() for m, _ in entries]
    strs = [s.encode() for _, s in entries]
    header_size = 28
    table = header_size + 16 * len(entries)
    offset, id_table, str_table, blob = table, [], [], b""
    for data, target in [(d, id_table) for d in ids] + [(d, str_table) for d in strs]:
        target.append((len(data), offset + len(blob)))
        blob += data + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, len(entries), header_size, header_size + 8 * len(entries), 0, 0)
    body = b"".join(struct.pack("<2I", *e) for e in id_table) + b"".join(struct.pack("<2I", *e) for e in str_table)
    path.write_bytes(header + body + blob)


def test_ui_catalogues_drop_context_plurals_and_accelerators(tmp_path):
    write_mo(tmp_path / "sw.mo", [
        ("", "Project-Id-Version: x\n"),
        ("STR_OPEN\x04~Open File", "Datei ö~ffnen"),
        ("STR_PAGES\x04%1 page\x00%1 pages", "%1 Seite\x00%1 Seiten"),
        ("STR_SAME\x04OK", "OK"),
    ])
    assert sorted(read_mo(tmp_path / "sw.mo"))[0] == ("", "Project-Id-Version: x\n")
    assert sorted(ui_pairs(tmp_path)) == [("%1 Seite", "%1 page"), ("Datei öffnen", "Open File")]


def test_split_follows_the_english_side_and_duplicates_go():
    sources = {
        "a": [("Hallo", "hello"), ("Servus", "hello"), ("Tschüss", "bye")],
        "b": [("Hallo", "hello"), ("Moin", "hello")],
    }
    splits, counts = assemble(sources, held_out=0.3)
    rows = [row for split in splits.values() for row in split]
    assert len(rows) == 4 and ("Hallo", "hello", "a") in rows and ("Moin", "hello", "b") in rows
    assert counts["b"]["extracted"] == 2 and counts["b"]["kept"] == 1
    where = {row[0]: split for split, split_rows in splits.items() for row in split_rows}
    assert where["Hallo"] == where["Servus"] == where["Moin"] == split_of("hello", 0.3)
    # Stable and close to the asked fractions.
    names = [split_of(f"sentence {i}", 0.01) for i in range(20000)]
    assert 150 <= names.count("test") <= 250 and 150 <= names.count("dev") <= 250
    assert names == [split_of(f"sentence {i}", 0.01) for i in range(20000)]
