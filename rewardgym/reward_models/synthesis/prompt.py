"""The prompt for LLM-written rewards, and the parsing of the LLM's answer.

Eureka (Ma et al. 2023) gives the LLM the environment's *source* as context, with comments and the
original reward code removed, so it sees what the state means without being handed the answer;
Text2Reward (Xie et al. 2023) gives a compact Pythonic description of the observation instead. The
prompt here has both: the spaces (names, shapes, meanings where the env documents them), the task
text from ``info["task"]``, and the env's source pruned by :func:`pruned_source`.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from typing import Any

import gymnasium as gym
from gymnasium import spaces

__all__ = ["SYSTEM_PROMPT", "describe_env", "pruned_source", "build_prompt", "extract_code"]

SYSTEM_PROMPT = (
    "You are a reward engineer. You write reward functions that make reinforcement learning agents "
    "solve tasks. You answer with one Python function in a ```python code block."
)

SIGNATURE = '''def compute_reward(obs, action, next_obs, info) -> tuple[float, dict[str, float]]:
    """Reward for one transition obs --action--> next_obs; info is the env's info dict after the step."""
    ...
    return total_reward, {"component_name": component_value, ...}'''

RULES = """Rules:
- Write the body of compute_reward; you may define helper functions above it.
- `np` (numpy) and `math` are already available. Do not write import statements.
- Observations are single transitions (no batch axis): a dict of numpy arrays for Dict spaces.
- Return a finite float and a dict of named float components whose sum (or combination) is the reward;
  the components are reported back to you to improve the reward.
- Answer with the code in one ```python block."""

# Methods that say nothing about the task's state or dynamics, and the reward itself.
_DROP_FUNCTION = re.compile(r"reward|render|close|text|pixel|image|camera|mjcf|xml|get_state|set_state|seed",
                            re.IGNORECASE)
_MAX_SOURCE_CHARS = 12_000


def describe_space(space: gym.Space, notes: dict[str, str] | None = None, name: str = "obs") -> list[str]:
    """One line per leaf of ``space``: its access path, type, shape, dtype, bounds and meaning."""
    notes = notes or {}
    if isinstance(space, spaces.Dict):
        lines = []
        for key, sub in space.spaces.items():
            lines += describe_space(sub, notes, f"{name}[{key!r}]")
        return lines
    if isinstance(space, spaces.Tuple):
        lines = []
        for i, sub in enumerate(space.spaces):
            lines += describe_space(sub, notes, f"{name}[{i}]")
        return lines
    if isinstance(space, spaces.Box):
        low, high = space.low.min(), space.high.max()
        kind = f"array shape {space.shape} {space.dtype}, values in [{low:g}, {high:g}]"
    elif isinstance(space, spaces.Discrete):
        kind = f"int in [{space.start}, {space.start + space.n - 1}]"
    elif isinstance(space, spaces.MultiDiscrete):
        kind = f"int array shape {space.shape}, bounds {space.nvec.tolist()}"
    elif isinstance(space, spaces.MultiBinary):
        kind = f"0/1 array shape {space.shape}"
    elif isinstance(space, spaces.Text):
        kind = "str"
    else:
        kind = type(space).__name__
    key = re.findall(r"\['([^']+)'\]$", name)
    meaning = notes.get(key[0]) if key else notes.get(name)
    return [f"- {name}: {kind}" + (f" -- {meaning}" if meaning else "")]


def _space_notes(env: gym.Env) -> dict[str, str]:
    """Meanings of Dict keys from the env's docstring: lines of the form ``key``  meaning."""
    notes: dict[str, str] = {}
    for doc in (inspect.getdoc(type(env)) or "", inspect.getmodule(type(env)).__doc__ or ""):
        for match in re.finditer(r"``(\w+)``(?:,\s*``\w+``)*\s+(?:\([^)]*\)\s*)?([^`\n][^\n]*)", doc):
            notes.setdefault(match.group(1), match.group(2).strip())
    return notes


def describe_env(env: gym.Env, task: str | None = None) -> str:
    """Observation and action spaces, and the task text, as the prompt states them."""
    base = env.unwrapped
    notes = _space_notes(base)
    lines = [f"Environment: {env.spec.id if env.spec else type(base).__name__}"]
    if task:
        lines.append(f"Task: {task}")
    lines.append("Observation (obs and next_obs):")
    lines += describe_space(env.observation_space, notes, "obs")
    lines.append("Action:")
    lines += describe_space(env.action_space, notes, "action")
    return "\n".join(lines)


def _prune_body(body: list[ast.stmt], docstring: bool) -> list[ast.stmt]:
    if docstring and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    kept = []
    for statement in body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and _DROP_FUNCTION.search(statement.name):
            continue
        if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and any(
                isinstance(n, ast.Name) and "reward" in n.id.lower() for n in ast.walk(statement)):
            continue  # the original reward's computation: the LLM must not copy it
        kept.append(statement)
    return kept


def _prune(tree: ast.Module) -> ast.Module:
    """Drop docstrings, the reward code and rendering/text plumbing (``ast.unparse`` drops comments)."""
    scopes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in list(ast.walk(tree)):
        for field in ("body", "orelse", "finalbody"):
            value = getattr(node, field, None)
            if isinstance(value, list) and value and all(isinstance(s, ast.stmt) for s in value):
                kept = _prune_body(value, docstring=field == "body" and isinstance(node, scopes))
                setattr(node, field, kept if kept or field != "body" else [ast.Pass()])
    return tree


def pruned_source(obj: Any) -> str:
    """``inspect.getsource(obj)`` without comments, docstrings, reward code or rendering, or ``""``."""
    try:
        source = textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        return ""
    tree = _prune(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))


def _source_classes(env: gym.Env) -> list[type]:
    """The env class and, for envs built around a task object, the task's own classes (most derived first)."""
    base = env.unwrapped
    classes: list[type] = [type(base)]
    task = getattr(base, "task", None)
    if task is not None and not isinstance(task, str):
        classes += [cls for cls in type(task).__mro__
                    if cls.__module__.startswith(type(base).__module__.split(".")[0]) and cls is not object]
    return classes


def build_prompt(env: gym.Env, task: str | None = None, *, feedback: str = "") -> list[dict[str, str]]:
    """Chat messages asking for ``compute_reward``: env description, pruned source, signature, rules.

    ``feedback`` (reward reflection on the previous iteration, Eureka section 3.3) is appended.
    """
    sources = []
    for cls in _source_classes(env):
        source = pruned_source(cls)
        if source:
            sources.append(source)
    source = "\n\n".join(sources)
    if len(source) > _MAX_SOURCE_CHARS:
        source = source[:_MAX_SOURCE_CHARS] + "\n# ... (truncated)"
    parts = [describe_env(env, task)]
    if source:
        parts.append(f"The environment's source (comments and the original reward removed):\n```python\n{source}\n```")
    parts.append(f"Write a reward function with this signature:\n```python\n{SIGNATURE}\n```")
    parts.append(RULES)
    if feedback:
        parts.append(feedback)
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(parts)}]


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(answer: str) -> str | None:
    """The ``compute_reward`` code in an LLM's answer, or ``None`` when there is none that parses.

    Prefers a fenced block (```python, ```py or unlabelled) that defines ``compute_reward``; falls
    back to a bare ``def compute_reward`` in the text, taking the helpers defined before it and the
    indented lines after it. Trailing prose inside a block is trimmed until the code parses.
    """
    if not isinstance(answer, str):
        return None
    blocks = [body for lang, body in _FENCE.findall(answer) if lang.lower() in ("", "python", "py", "python3")]
    for block in blocks:
        if re.search(r"^\s*def\s+compute_reward\s*\(", block, re.MULTILINE):
            code = _parsable_prefix(block)
            if code:
                return code
    lines = answer.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"def\s+compute_reward\s*\(", line)), None)
    if start is None:
        return None
    first = start
    while first > 0 and (lines[first - 1].startswith((" ", "\t", "def ", "@")) or not lines[first - 1].strip()
                         or re.match(r"[A-Za-z_]\w*\s*=", lines[first - 1])):
        first -= 1  # helpers and constants right above compute_reward
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    return _parsable_prefix("\n".join(lines[first:end])) or _parsable_prefix("\n".join(lines[start:end]))


def _parsable_prefix(code: str) -> str | None:
    lines = textwrap.dedent(code).rstrip().splitlines()
    while lines:
        candidate = "\n".join(lines).strip("\n") + "\n"
        try:
            tree = ast.parse(candidate)
        except SyntaxError:
            lines.pop()
            continue
        if any(isinstance(node, ast.FunctionDef) and node.name == "compute_reward" for node in tree.body):
            return candidate
        return None
    return None
