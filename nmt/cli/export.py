"""nmt-export: a trained translation model as ONNX graphs that nmt-translate and nmt-serve run
without torch (nmt/export.py; the runtime is nmt/runtime)."""

from __future__ import annotations

import argparse
from pathlib import Path

from nmt.cli.common import run_main
from nmt.errors import NmtError


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nmt-export", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, metavar="EXP_DIR", help="experiment directory of a translation model")
    parser.add_argument("--checkpoint", default="best", metavar="best|last|avg|PATH", help="which weights (default best)")
    parser.add_argument("--out", required=True, metavar="DIR", help="where the export goes (a new or an exported directory)")
    parser.add_argument("--no-int8", action="store_true", help="leave out the int8 graphs")
    return parser.parse_args()


def _main() -> int:
    args = _arguments()
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not (out / "export.json").exists():
        raise NmtError(f"export: {out} exists and is not an export: give a new directory (nothing in it is replaced)")
    try:
        import onnx  # noqa: F401  (torch's exporter writes through it)
    except ImportError:
        raise NmtError("export: writing ONNX needs the onnx package: pip install onnx onnxruntime") from None
    from nmt.export import export_model
    from nmt.export_choice import choose_default, describe, write_default
    from nmt.tasks import load_trained

    loaded = load_trained(args.model, task="translation", checkpoint=args.checkpoint, device="cpu")
    export_model(loaded.model, Path(args.model), out, src_vocab_size=loaded.tokenizer.src_vocab_size,
                            tgt_vocab_size=loaded.tokenizer.tgt_vocab_size, int8=not args.no_int8,
                            describe={"model": str(Path(args.model).resolve()), "checkpoint": str(loaded.checkpoint)})
    sizes = ", ".join(f"{path.name} {path.stat().st_size / 1e6:.1f} MB" for path in sorted(out.glob("*.onnx")))
    print(f"nmt-export: {out}: {sizes}", flush=True)
    choice = choose_default(out, Path(args.model))
    write_default(out, choice)
    print(f"nmt-export: {describe(choice)}; translate with: nmt-translate --model {out}")
    return 0


def main() -> None:
    run_main("nmt-export", _main)


if __name__ == "__main__":
    main()
