"""Steps addressed by their path in the flow's tree: "0", "2", "2.yes.0", "2.yes.0.no.1".

A path names a step's position, so it stays meaningful while an enrollment waits; the engine stores the
path of the next step to run and walks the tree with these functions only.
"""

from typing import Any

BRANCHES = ("yes", "no")


def _parts(path: str) -> list[str]:
    return path.split(".") if path else []


def step_at(steps: list[dict[str, Any]], path: str) -> dict[str, Any] | None:
    """The step at `path`, or None if the tree (edited since) has no such step."""
    parts = _parts(path)
    current: Any = steps
    for position, part in enumerate(parts):
        if position % 2 == 0:
            if not part.isdigit() or not isinstance(current, list) or int(part) >= len(current):
                return None
            current = current[int(part)]
        else:
            if part not in BRANCHES or not isinstance(current, dict) or current.get("type") != "branch":
                return None
            current = current.get(part) or []
    return current if isinstance(current, dict) else None


def _siblings(steps: list[dict[str, Any]], parent: str, branch: str) -> list:
    owner = step_at(steps, parent) if parent else None
    return steps if owner is None else owner.get(branch) or []


def after(steps: list[dict[str, Any]], path: str) -> str | None:
    """The path of the step that follows `path` (not entering it if it is a branch), climbing out of
    branches that end; None at the end of the flow."""
    parts = _parts(path)
    while parts:
        index = int(parts[-1])
        parent, branch = ".".join(parts[:-2]), (parts[-2] if len(parts) > 1 else "")
        if index + 1 < len(_siblings(steps, parent, branch)):
            return ".".join([*parts[:-1], str(index + 1)])
        parts = parts[:-2]  # past the end of this branch: the step after its branch step
    return None


def into(steps: list[dict[str, Any]], path: str, branch: str) -> str | None:
    """The first step of `branch` of the branch step at `path`, or the step after it when that side is empty."""
    step = step_at(steps, path)
    if step and step.get(branch):
        return f"{path}.{branch}.0"
    return after(steps, path)


def walk(steps: list[dict[str, Any]], prefix: str = ""):
    """Every (path, step), depth first, in the order a contact could meet them."""
    for index, step in enumerate(steps):
        path = f"{prefix}{index}"
        yield path, step
        if step.get("type") == "branch":
            for branch in BRANCHES:
                yield from walk(step.get(branch) or [], f"{path}.{branch}.")
