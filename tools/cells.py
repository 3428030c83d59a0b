#!/usr/bin/env python3
"""What single cells of a recurrent model respond to (Karpathy, Johnson and Fei-Fei 2015, 4.2-4.3).

    python tools/cells.py --model recipes/char-rnn/exp/lstm -i some_file.c -o cells.html [--units 1:57,0:12]
           [--png cells.png] [--search] [--saturation gates.png] [--report units.json]
    python tools/cells.py --model recipes/ding-de-en/exp/rnnsearch --source "Ich habe Hunger." -o cells.html

For a character model the text is read from the start with the state carried, and every
character is coloured by a unit's activation (tanh of the LSTM cell, or the hidden state):
red +1, white 0, blue -1. `--search` correlates every unit with simple features of the text
(inside a string, bracket and brace depth, position in the line, indentation) and shows the
best unit for each; `--saturation` plots how often each gate is left- (< 0.1) or right-
(> 0.9) saturated (the paper's Fig. 3). For a translation model, `--source` is translated and
its encoder (and, with --part decoder, decoder) cells are shown over the pieces.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path

import numpy as np
import torch

FEATURES = ("in_string", "paren_depth", "brace_depth", "column", "indentation", "in_comment")


def text_features(text: str) -> dict[str, np.ndarray]:
    """Per character: inside a "..." string, inside a comment, ( and { depth, column, the line's indentation."""
    values = {name: np.zeros(len(text)) for name in FEATURES}
    in_string = in_comment = escaped = False
    paren = brace = column = indent = 0
    counting_indent = True
    for i, char in enumerate(text):
        values["in_string"][i], values["in_comment"][i] = in_string, in_comment
        values["paren_depth"][i], values["brace_depth"][i] = paren, brace
        values["column"][i], values["indentation"][i] = column, indent
        if in_comment:
            in_comment = not (char == "/" and i and text[i - 1] == "*")
        elif in_string:
            in_string = escaped or char != '"'
            escaped = char == "\\" and not escaped
        elif char == '"':
            in_string = True
        elif char == "*" and i and text[i - 1] == "/":
            in_comment = True
        elif char in "()":
            paren = max(0, paren + (1 if char == "(" else -1))
        elif char in "{}":
            brace = max(0, brace + (1 if char == "{" else -1))
        if char == "\n":
            column, indent, counting_indent = 0, 0, True
        else:
            column += 1
            if counting_indent and char in " \t":
                indent += 8 if char == "\t" else 1
            else:
                counting_indent = False
    return values


def char_model_cells(exp_dir: Path, text: str, checkpoint: str):
    from nmt.activations import unroll
    from nmt.tasks import load_trained

    _, vocab, model = load_trained(exp_dir, task="char_lm", checkpoint=checkpoint)
    with torch.no_grad():
        layers = unroll(model.rnn, model.embedding(torch.from_numpy(vocab.encode(text).astype(np.int64))), part="char")
    return list(text), layers


def translation_cells(exp_dir: Path, source: str, part: str, checkpoint: str):
    from nmt.activations import decoder_activations, encoder_activations
    from nmt.tasks import load_trained
    from nmt.translate import Translator

    loaded = load_trained(exp_dir, task="translation", checkpoint=checkpoint)
    translator = Translator(loaded.model, loaded.tokenizer, decode=loaded.cfg.decode)
    ids = translator.encode([source])[0][0]
    if part == "encoder":
        pieces = [loaded.tokenizer.src.id_to_piece(i) for i in ids] + ["</s>"]
        return pieces, encoder_activations(loaded.model, ids)
    hypothesis = translator.translate_ids([ids])[0][0]
    pieces = [loaded.tokenizer.tgt.id_to_piece(i) for i in hypothesis.tokens] + ["</s>"]
    return pieces, decoder_activations(loaded.model, ids, hypothesis.tokens)


def activations(layer, state: str) -> np.ndarray:
    """(T, H): tanh of the cell state (the paper's choice) where there is one, else the hidden state."""
    if state == "cell" and layer.cell is not None:
        return torch.tanh(layer.cell).numpy()
    return layer.hidden.numpy()


def search_units(layers, tokens: list[str], state: str) -> list[dict]:
    """For each feature of the text, the unit (layer, index) whose activation correlates most with it."""
    features = text_features("".join(tokens))
    found: list[dict] = []
    for name, feature in features.items():
        if feature.std() == 0:
            continue
        best = None
        for index, layer in enumerate(layers):
            values = activations(layer, state)  # (T, H)
            centred = values - values.mean(0)
            norms = np.sqrt((centred ** 2).sum(0)) * np.sqrt(((feature - feature.mean()) ** 2).sum())
            correlation = (centred * (feature - feature.mean())[:, None]).sum(0) / np.where(norms > 0, norms, np.inf)
            unit = int(np.abs(correlation).argmax())
            if best is None or abs(correlation[unit]) > abs(best["correlation"]):
                best = {"feature": name, "layer": index, "layer_name": layer.name, "unit": unit,
                        "correlation": round(float(correlation[unit]), 3)}
        if best is not None:
            found.append(best)
    return found


def _rgb(value: float) -> tuple[int, int, int]:
    v = max(-1.0, min(1.0, float(value)))
    fade = int(255 * (1 - abs(v)))
    return (255, fade, fade) if v >= 0 else (fade, fade, 255)


def _colour(value: float) -> str:
    return "rgb({},{},{})".format(*_rgb(value))


def html_block(tokens: list[str], values: np.ndarray, title: str) -> str:
    spans = []
    for token, value in zip(tokens, values):
        shown = html.escape(token).replace("\n", "\u21b5<br>").replace("\t", "&nbsp;" * 4).replace(" ", "&nbsp;")
        spans.append(f'<span style="background:{_colour(value)}" title="{float(value):+.3f}">{shown}</span>')
    return f"<h2>{html.escape(title)}</h2>\n<div class=\"text\">{''.join(spans)}</div>"


def write_html(path: Path, blocks: list[str], heading: str) -> None:
    style = ("body{font-family:sans-serif;margin:1.5em} .text{font-family:monospace;line-height:1.45;"
             "border:1px solid #ddd;padding:.6em;margin-bottom:1.5em} h2{font-size:1em}")
    path.write_text(f"<!doctype html><meta charset=utf-8><title>{html.escape(heading)}</title><style>{style}</style>"
                    f"<h1>{html.escape(heading)}</h1><p>red +1, white 0, blue &minus;1</p>\n" + "\n".join(blocks),
                    encoding="utf-8")


def write_png(path: Path, tokens: list[str], values: np.ndarray, title: str, columns: int = 100) -> None:
    """The coloured text as a picture: one character a cell, lines as in the text (cut at `columns`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: list[list] = []
    row: list = []
    col = 0
    for token, value in zip(tokens, values):
        if token == "\n" or col >= columns:
            rows.append(row)
            row, col = [], 0
            if token == "\n":
                continue
        row.append((token.replace("\t", " "), value))
        col += max(1, len(token))
    rows.append(row)
    rows = rows[:60]
    fig, ax = plt.subplots(figsize=(columns * 0.11, len(rows) * 0.2 + 0.6))
    for y, line in enumerate(rows):
        for x, (token, value) in enumerate(line):
            ax.add_patch(plt.Rectangle((x, -y - 1), 1, 1, color=tuple(c / 255 for c in _rgb(value))))
            ax.text(x + 0.5, -y - 0.5, token, ha="center", va="center", fontsize=7, family="monospace")
    ax.set_xlim(0, columns)
    ax.set_ylim(-len(rows), 0)
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def saturation_plot(layers, path: Path) -> dict:
    """Fraction of time each gate unit is left- (< 0.1) or right- (> 0.9) saturated, per layer (Fig. 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gates = [name for name in layers[0].gates if name in ("input", "forget", "output", "reset", "update")]
    if not gates:
        return {}
    fig, axes = plt.subplots(1, len(gates), figsize=(4 * len(gates), 4), squeeze=False)
    summary = {}
    for axis, gate in zip(axes[0], gates):
        for layer in layers:
            values = layer.gates[gate].numpy()
            left, right = (values < 0.1).mean(0), (values > 0.9).mean(0)
            axis.scatter(left, right, s=8, alpha=0.6, label=layer.name)
            summary[f"{layer.name} {gate}"] = {"left": round(float(left.mean()), 3), "right": round(float(right.mean()), 3)}
        axis.plot([0, 1], [1, 0], color="#999", linewidth=0.8)
        axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="fraction left-saturated (< 0.1)",
                 ylabel="fraction right-saturated (> 0.9)", title=f"{gate} gate")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="an experiment directory (char_lm or translation)")
    parser.add_argument("--checkpoint", default="best")
    parser.add_argument("-i", "--input", type=Path, help="text for a character model")
    parser.add_argument("--chars", type=int, default=4000, help="how much of the input to read")
    parser.add_argument("--source", help="a source sentence for a translation model")
    parser.add_argument("--part", choices=["encoder", "decoder"], default="encoder")
    parser.add_argument("--units", default="", help="LAYER:UNIT,... to show (default: the --search winners or 0:0)")
    parser.add_argument("--state", choices=["cell", "hidden"], default="cell")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the HTML page")
    parser.add_argument("--png", type=Path, help="also the first unit's text as a picture")
    parser.add_argument("--search", action="store_true", help="find the unit that tracks each feature of the text")
    parser.add_argument("--saturation", type=Path, help="a plot of gate saturation per layer")
    parser.add_argument("--report", type=Path, help="the search and saturation figures as JSON")
    args = parser.parse_args()
    if args.source is not None:
        tokens, layers = translation_cells(args.model, args.source, args.part, args.checkpoint)
    elif args.input is not None:
        tokens, layers = char_model_cells(args.model, args.input.read_text(encoding="utf-8")[: args.chars], args.checkpoint)
    else:
        sys.exit("cells: give -i FILE (a character model) or --source SENTENCE (a translation model)")
    report: dict = {"found": search_units(layers, tokens, args.state) if args.search else []}
    chosen = [(int(a), int(b)) for a, b in (item.split(":") for item in args.units.split(",") if item)]
    chosen = chosen or [(f["layer"], f["unit"]) for f in report["found"]] or [(0, 0)]
    blocks = []
    for found in report["found"]:
        layer = layers[found["layer"]]
        blocks.append(html_block(tokens, activations(layer, args.state)[:, found["unit"]],
                                 f"{found['feature']}: {layer.name}, unit {found['unit']} (correlation {found['correlation']:+.2f})"))
    if not report["found"]:
        for index, unit in chosen:
            blocks.append(html_block(tokens, activations(layers[index], args.state)[:, unit], f"{layers[index].name}, unit {unit}"))
    write_html(args.output, blocks, f"cells of {args.model}")
    if args.png:
        index, unit = chosen[0]
        write_png(args.png, tokens, activations(layers[index], args.state)[:, unit], f"{layers[index].name}, unit {unit}")
    if args.saturation:
        report["saturation"] = saturation_plot(layers, args.saturation)
    if args.report:
        args.report.write_text(json.dumps(report, indent=2))
    for found in report["found"]:
        print(f"{found['feature']:>12}: {found['layer_name']}, unit {found['unit']}, correlation {found['correlation']:+.3f}")
    print(f"wrote {args.output}" + (f", {args.png}" if args.png else "") + (f", {args.saturation}" if args.saturation else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
