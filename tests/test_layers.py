"""The import rule, read from the source: a layer imports only the layers below it, and no two modules import
each other. Imports inside functions count: hiding an upward import in a function is still an upward import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rewardgym"

# Bottom to top. A module may import its own layer and the layers listed as below it.
LAYERS = {
    "ground": ["rewardgym._batch", "rewardgym._files", "rewardgym._ray", "rewardgym._registry", "rewardgym._text",
               "rewardgym._torch", "rewardgym._version", "rewardgym.testing"],
    "envs": ["rewardgym.envs", "rewardgym.registration"],
    "rewards": ["rewardgym.rewards"],
    "reward_models": ["rewardgym.reward_models"],
    "wrappers": ["rewardgym.wrappers"],
    "agents": ["rewardgym.agents"],
    "workflows": ["rewardgym.workflows"],
    "top": ["rewardgym.cli", "rewardgym"],
}
BELOW = {
    "ground": set(),
    "envs": {"ground"},
    "rewards": {"ground"},  # beside the envs: neither imports the other
    "reward_models": {"ground", "rewards"},
    "wrappers": {"ground", "envs", "rewards", "reward_models"},
    "agents": {"ground", "envs", "rewards", "reward_models", "wrappers"},
    "workflows": {"ground", "envs", "rewards", "reward_models", "wrappers", "agents"},
    "top": {"ground", "envs", "rewards", "reward_models", "wrappers", "agents", "workflows"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    best, length = None, -1
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = layer, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def imports_of(module: str) -> set[str]:
    """The rewardgym modules ``module`` imports anywhere in its source (``from pkg import name`` counts
    ``pkg.name`` when that is a module, else ``pkg``)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, up level - 1 packages
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return {name for name in found if name == "rewardgym" or name.startswith("rewardgym.")} - {module}


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_is_in_a_layer():
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_layer_imports_only_the_layers_below_it(module):
    layer = layer_of(module)
    allowed = BELOW[layer] | {layer}
    upward = sorted(f"{target} ({layer_of(target)})" for target in GRAPH[module] if layer_of(target) not in allowed)
    assert not upward, f"{module} ({layer}) imports {', '.join(upward)}"


def test_no_two_modules_import_each_other():
    pairs = sorted({tuple(sorted((a, b))) for a, targets in GRAPH.items() for b in targets if a in GRAPH.get(b, ())})
    assert not pairs, f"modules that import each other: {pairs}"


def test_reward_models_and_the_rewards_core_import_nothing_above_them():
    """The issue's own wording of the rule, checked by name."""
    forbidden = ("rewardgym.wrappers", "rewardgym.agents", "rewardgym.workflows", "rewardgym.cli")
    for module, targets in GRAPH.items():
        if module.startswith(("rewardgym.rewards", "rewardgym.reward_models")):
            bad = sorted(t for t in targets if t.startswith(forbidden))
            assert not bad, f"{module} imports {bad}"


def test_the_checker_sees_imports_hidden_in_functions():
    # grpo.py imports TextInterface inside text_envs(); the CLI imports the workflows inside its commands
    assert "rewardgym.wrappers.text" in GRAPH["rewardgym.agents.llm.grpo"]
    assert "rewardgym.workflows.training" in GRAPH["rewardgym.cli"]
