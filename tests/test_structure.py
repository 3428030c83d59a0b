"""The package's shape: no import cycles, layers that point one way, variants and tasks registered once;
the tools form no cycle and use the installed package; a recipe uses recipes/lib, not another recipe's scripts."""

from __future__ import annotations

import ast
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from conftest import REPO

from nmt.config import ModelConfig
from nmt.models import build_model
from nmt.variants import VARIANTS, VariantName

PACKAGE = REPO / "nmt"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The nmt modules a file imports anywhere in it (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: imports_of(path, set(files)) for name, path in files.items()}
    # Importing nmt.a.b runs nmt/a/__init__.py first: a package depends on what its __init__ imports.
    return {name: deps - {name} for name, deps in graph.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                return path[path.index(dep):] + [dep] if dep in path else [node, dep]
            if dep not in state and (cycle := visit(dep, path + [dep])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def reached_from(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every nmt module that importing `start` may import (through imports inside functions too)."""
    reached, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(graph[module])
    return reached


def test_no_module_of_nmt_imports_another_in_a_cycle():
    graph = import_graph()
    assert "nmt.search" in graph["nmt.translate"] and "nmt.translate" not in graph["nmt.search"]
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_reading_any_config_loads_no_torch():
    # The command lines check a config (and print its one-line errors) before torch is loaded.
    code = ("import sys; from nmt.tasks import load_config; "
            "import nmt.config, nmt.variants, nmt.specials, nmt.lm.config, nmt.captioning.config; "
            f"load_config({str(REPO / 'recipes/ding-de-en/conf/rnnsearch.yaml')!r}); "
            f"load_config({str(REPO / 'recipes/char-rnn/conf/lstm.yaml')!r}); "
            f"load_config({str(REPO / 'recipes/emoji-captions/conf/rnnsearch_en.yaml')!r}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sentencepiece', 'numpy')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_only_the_command_lines_import_the_command_lines():
    graph = import_graph()
    outside = {name: deps for name, deps in graph.items() if not name.startswith("nmt.cli")}
    assert not {name: deps for name, deps in outside.items() if any(d.startswith("nmt.cli") for d in deps)}


@pytest.mark.parametrize("layer", ["nmt.models", "nmt.search", "nmt.batching", "nmt.lm.model", "nmt.lm.task",
                                   "nmt.train", "nmt.tasks"])
def test_models_search_batching_the_char_model_and_the_loop_do_not_load_sentencepiece(layer):
    graph = import_graph()
    reached = set().union(*(reached_from(graph, name) for name in graph if name == layer or name.startswith(layer + ".")))
    assert "nmt.tokenizer" not in reached and "nmt.prepare" not in reached
    for module in reached:
        path = PACKAGE.parent / (module.replace(".", "/") + ".py")
        source = path.read_text(encoding="utf-8") if path.exists() else ""
        assert "sentencepiece" not in source, module


def test_the_training_loop_knows_no_task():
    reached = reached_from(import_graph(), "nmt.train")
    assert not reached & {"nmt.models", "nmt.translation_task", "nmt.validate", "nmt.lm.task", "nmt.tokenizer"}


def test_starting_a_run_sits_above_the_loop_and_loading_a_model_beside_translation():
    graph = import_graph()
    assert "nmt.train" in graph["nmt.launch"]  # the run starter uses the loop ...
    assert "nmt.launch" not in reached_from(graph, "nmt.train")  # ... which knows nothing of starting runs
    loading = reached_from(graph, "nmt.experiment")
    assert not loading & {"nmt.launch", "nmt.train", "nmt.translation_task", "nmt.optim", "nmt.monitor"}
    assert not reached_from(graph, "nmt.translate") & {"nmt.launch", "nmt.train"}
    # The registry names modules as strings: it imports none of them (and no torch).
    assert reached_from(graph, "nmt.tasks") <= {"nmt.tasks", "nmt.config_files", "nmt.errors"}
    starters = {name for name, deps in graph.items() if "nmt.launch" in deps}
    assert starters and all(name.startswith("nmt.cli") for name in starters), starters


def tool_graph() -> dict[str, set[str]]:
    """tools/*.py and the tools each imports (they import each other as top-level modules)."""
    files = {path.stem: path for path in (REPO / "tools").glob("*.py")}
    return {name: imports_of(path, set(files)) - {name} for name, path in files.items()}


def test_no_tool_imports_another_in_a_cycle_and_none_edits_sys_path():
    graph = tool_graph()
    assert "benchlib" in graph["bench"] and "benchlib" in graph["bench_ddp"]
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)
    for path in (REPO / "tools").glob("*.py"):  # the package is installed: tools import it as users do
        assert "sys.path.insert" not in path.read_text(encoding="utf-8"), path


RECIPES = sorted(p.name for p in (REPO / "recipes").iterdir() if p.is_dir() and p.name != "lib")


@pytest.mark.parametrize("recipe", RECIPES)
def test_a_recipe_reaches_no_other_recipes_scripts(recipe):
    """What two recipes share lives in recipes/lib/; a recipe's local/ is its own."""
    folder = REPO / "recipes" / recipe
    scripts = [p for p in folder.rglob("*") if p.suffix in (".py", ".sh") and not {"data", "exp"} & set(p.parts)]
    for path in scripts:
        text = path.read_text(encoding="utf-8")
        for other in (r for r in RECIPES if r != recipe):
            assert not [form for form in (f'"{other}"', f"../{other}/", f"{other}/local") if form in text], (path, other)


def test_no_test_waits_on_a_command_longer_than_pytest_timeout_allows_the_test():
    """pytest-timeout ends a test at its limit: a subprocess timeout beyond it would never say what hung."""
    import re

    limit = int(re.search(r"^timeout = (\d+)", (REPO / "pyproject.toml").read_text(encoding="utf-8"), re.M).group(1))
    for path in (REPO / "tests").glob("*.py"):
        waits = [int(n) for n in re.findall(r"\btimeout=(\d+)", path.read_text(encoding="utf-8"))]
        assert all(wait < limit for wait in waits), (path.name, max(waits), limit)


def test_nmt_never_imports_tools_or_recipes():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.split(".")[0] in ("tools", "recipes", "bench")], path


def test_every_literal_variant_has_one_registry_entry_and_a_buildable_decoder():
    assert set(typing.get_args(VariantName)) == set(VARIANTS)
    for name, variant in VARIANTS.items():
        decoder = variant.decoder_class()
        assert callable(getattr(decoder, "from_config", None)), name
        model = build_model(ModelConfig(variant=name, decoder_hidden=16, encoder_hidden=8, embed_size=8,
                                        attention_size=8, score="general"), 20, 20)
        assert isinstance(model.decoder, decoder)
        assert model.encoder.directions == (2 if variant.bidirectional else 1), name


@pytest.mark.parametrize("name", list(VARIANTS))
def test_the_registry_decides_the_encoder_direction_only_when_the_config_leaves_it_open(name):
    variant = VARIANTS[name]
    other = not variant.bidirectional
    config = ModelConfig(variant=name, bidirectional=other, decoder_hidden=16, encoder_hidden=8, embed_size=8,
                         attention_size=8)
    if variant.either_direction:
        assert build_model(config, 20, 20).encoder.directions == (2 if other else 1)
    else:
        from nmt.errors import ConfigError
        from nmt.tasks import load_config

        data = {"train": {"src": "a", "tgt": "b"}, "dev": {"src": "c", "tgt": "d"}}
        with pytest.raises(ConfigError, match=f"contradicts model.variant = '{name}'"):
            load_config({"data": data, "model": {"variant": name, "bidirectional": other}})
