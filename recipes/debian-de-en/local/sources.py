"""German-English pairs from three Debian sources: LibreOffice help pages, package
descriptions (DDTP), LibreOffice user-interface catalogues. Each reader yields (de, en)."""

from __future__ import annotations

import re
import struct
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

Pair = tuple[str, str]
_SPACE = re.compile(r"\s+")


def squeeze(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


# -- LibreOffice help ---------------------------------------------------------------------

_BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6"}
_VOID = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col", "area", "base", "embed"}


class _HelpPage(HTMLParser):
    """Collects the text of every p/h1-h6 that has an id, leaving out macOS-only spans.

    A repeated id keeps its occurrences apart as (id, n), so both languages pair in order.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: dict[tuple[str, int], str] = {}
        self._seen: dict[str, int] = {}
        self._block: tuple[str, str] | None = None  # (tag, id) being collected
        self._parts: list[str] = []
        self._span_depth = 0  # open spans inside the block
        self._mac_depth = 0  # span depth at which a macOS-only span opened (0: none open)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if self._block is None:
            if tag in _BLOCKS and attributes.get("id"):
                self._block, self._parts = (tag, attributes["id"]), []
            return
        if tag == "span":
            self._span_depth += 1
            classes = (attributes.get("class") or "").split()
            if "MAC" in classes and not self._mac_depth:
                self._mac_depth = self._span_depth
        elif tag == "br":
            self._parts.append(" ")

    def handle_endtag(self, tag):
        if self._block is None:
            return
        if tag == "span" and self._span_depth:
            if self._mac_depth == self._span_depth:
                self._mac_depth = 0
            self._span_depth -= 1
        elif tag == self._block[0]:
            block_id = self._block[1]
            occurrence = self._seen.get(block_id, 0)
            self._seen[block_id] = occurrence + 1
            self.texts[(block_id, occurrence)] = squeeze("".join(self._parts))
            self._block, self._span_depth, self._mac_depth = None, 0, 0

    def handle_data(self, data):
        if self._block is not None and not self._mac_depth:
            self._parts.append(data)


def _page_texts(path: Path) -> dict[tuple[str, int], str]:
    page = _HelpPage()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    page.close()
    return page.texts


class _TaggedHelpPage(_HelpPage):
    """The same blocks with their inline markup kept (`<span class="menuitem">OK</span>`, `<br/>`):
    `tagged` beside `texts`, under the same keys."""

    def __init__(self) -> None:
        super().__init__()
        self.tagged: dict[tuple[str, int], str] = {}
        self._marked: list[str] = []

    def handle_starttag(self, tag, attrs):
        inside = self._block is not None
        super().handle_starttag(tag, attrs)
        if not inside:
            self._marked = []
        elif not self._mac_depth:
            text = self.get_starttag_text() or f"<{tag}>"
            self._marked.append(text[:-1].rstrip("/ ") + "/>" if tag in _VOID else text)

    def handle_endtag(self, tag):
        block = self._block
        if block is not None and tag != block[0] and not self._mac_depth and tag not in _VOID:
            self._marked.append(f"</{tag}>")
        super().handle_endtag(tag)
        if block is not None and self._block is None:  # the block just closed
            key = (block[1], self._seen[block[1]] - 1)
            self.tagged[key] = squeeze("".join(self._marked))

    def handle_data(self, data):
        super().handle_data(data)
        if self._block is not None and not self._mac_depth:
            self._marked.append(data.replace("<", "&lt;"))


def _read_page(path: Path, page: _HelpPage) -> _HelpPage:
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    page.close()
    return page


def _page_pairs(en_root: Path, de_root: Path, page: type[_HelpPage]) -> Iterator[tuple[_HelpPage, _HelpPage, tuple]]:
    """(English page, German page, key) of every block both pages hold with different text."""
    for en_path in sorted(en_root.rglob("*.html")):
        de_path = de_root / en_path.relative_to(en_root)
        if not de_path.is_file():
            continue
        en_page, de_page = _read_page(en_path, page()), _read_page(de_path, page())
        for key, en in en_page.texts.items():
            de = de_page.texts.get(key)
            if de and en and de != en:
                yield en_page, de_page, key


def libreoffice_help_pairs(en_root: Path, de_root: Path, tagged: list | None = None) -> Iterator[Pair]:
    """Pages at the same relative path in both languages, paired by element id. With `tagged` (a list),
    the same reading also appends each pair that has inline markup, as libreoffice_help_tagged gives
    it: the pages are parsed once for both."""
    page = _HelpPage if tagged is None else _TaggedHelpPage
    for en_page, de_page, key in _page_pairs(en_root, de_root, page):
        if tagged is not None and (marked := _marked_pair(en_page, de_page, key)) is not None:
            tagged.append(marked)
        yield de_page.texts[key], en_page.texts[key]


_TAG_NAMES = re.compile(r"<(/?[A-Za-z]+)")


def _marked_pair(en_page, de_page, key) -> tuple[Pair, Pair] | None:
    """((de, en) as text, (de, en) with their inline markup) where both sides carry the same tags (by
    name, in any order); None otherwise."""
    de, en = de_page.tagged.get(key, ""), en_page.tagged.get(key, "")
    tags = sorted(_TAG_NAMES.findall(en))
    if tags and tags == sorted(_TAG_NAMES.findall(de)):
        return (de_page.texts[key], en_page.texts[key]), (de, en)
    return None


def libreoffice_help_tagged(en_root: Path, de_root: Path) -> Iterator[tuple[Pair, Pair]]:
    """((de, en) as text, (de, en) with their inline markup) for the blocks whose two sides carry the
    same tags: the tag test set of `nmt-translate --tags`."""
    tagged: list = []
    for _ in libreoffice_help_pairs(en_root, de_root, tagged):
        yield from tagged
        tagged.clear()


# -- Debian package descriptions ---------------------------------------------------------

def _translation_entries(path: Path, language: str) -> dict[str, list[str]]:
    """Description-md5 -> [short description, long paragraph, ...] (None for preformatted ones)."""
    entries: dict[str, list] = {}
    field = f"Description-{language}:"
    md5, lines = None, None
    with path.open(encoding="utf-8", errors="replace") as handle:
        for raw in [*handle, "\n"]:
            line = raw.rstrip("\n")
            if not line.strip():
                if md5 and lines is not None:
                    entries[md5] = _paragraphs(lines)
                md5, lines = None, None
            elif line.startswith("Description-md5:"):
                md5 = line.split(":", 1)[1].strip()
            elif line.startswith(field):
                lines = [line[len(field):].strip()]
            elif line.startswith(" ") and lines is not None:
                lines.append(line)
    return entries


def _paragraphs(lines: list[str]) -> list:
    short, body = lines[0], lines[1:]
    paragraphs, current = [short], []
    for line in [*body, " ."]:
        if line.strip() == ".":
            if current:
                preformatted = any(part.startswith("  ") for part in current)
                paragraphs.append(None if preformatted else squeeze(" ".join(current)))
            current = []
        else:
            current.append(line)
    return paragraphs


def description_pairs(translation_en: Path, translation_de: Path) -> Iterator[Pair]:
    """Short descriptions always; long paragraphs where both sides have as many paragraphs."""
    english = _translation_entries(translation_en, "en")
    german = _translation_entries(translation_de, "de")
    for md5, de_paragraphs in german.items():
        en_paragraphs = english.get(md5)
        if not en_paragraphs:
            continue
        count = len(de_paragraphs) if len(de_paragraphs) == len(en_paragraphs) else 1
        for de, en in zip(de_paragraphs[:count], en_paragraphs[:count]):
            if de and en and de != en:
                yield squeeze(de), squeeze(en)


def description_english(translation_en: Path, translation_de: Path) -> Iterator[str]:
    """Short descriptions and plain paragraphs of the packages whose description has no German translation."""
    german = _translation_entries(translation_de, "de")
    for md5, paragraphs in _translation_entries(translation_en, "en").items():
        if md5 not in german:
            yield from (squeeze(paragraph) for paragraph in paragraphs if paragraph)


# -- LibreOffice user interface ----------------------------------------------------------

def read_mo(path: Path) -> Iterator[tuple[str, str]]:
    """(msgid, msgstr) of a compiled gettext catalogue, as stored: 'context\x04id', plurals NUL-joined."""
    data = path.read_bytes()
    order = {0x950412DE: "<", 0xDE120495: ">"}.get(struct.unpack("<I", data[:4])[0])
    if order is None:
        raise ValueError(f"{path}: not a gettext .mo file")
    count, originals, translations = struct.unpack(order + "3I", data[8:20])
    for index in range(count):
        id_length, id_offset = struct.unpack_from(order + "2I", data, originals + 8 * index)
        str_length, str_offset = struct.unpack_from(order + "2I", data, translations + 8 * index)
        yield (data[id_offset:id_offset + id_length].decode("utf-8", errors="replace"),
               data[str_offset:str_offset + str_length].decode("utf-8", errors="replace"))


def ui_pairs(mo_dir: Path) -> Iterator[Pair]:
    """msgid -> msgstr of every catalogue: singular forms, context and '~' accelerator marks removed."""
    for path in sorted(mo_dir.glob("*.mo")):
        for msgid, msgstr in read_mo(path):
            if not msgid:
                continue  # the catalogue header
            english = msgid.split("\x04", 1)[-1].split("\0", 1)[0]
            german = msgstr.split("\0", 1)[0]
            en, de = squeeze(english.replace("~", "")), squeeze(german.replace("~", ""))
            if de and en and de != en:
                yield de, en
