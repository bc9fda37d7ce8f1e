"""The layers point one way and no module imports itself back.

contacts ← segments ← campaigns: a lower app never imports a higher one (not at module level, not
inside a function, not through `apps.get_model`); the higher app plugs into the lower one's
registries instead (`contacts.hooks`, `contacts.admin.actions`, `segments.hooks`, the condition
registry). `crm` is the project package: the parts of it that the apps import never import an app.

Read from the source with `ast`, so the check needs no database and sees imports that a test run
would never execute.
"""

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crm", "contacts", "segments", "campaigns")
LAYERS = ("contacts", "segments", "campaigns")  # each may import only those before it
# Calls that name an app by a string and so reach it without an import statement.
APP_BY_NAME = {"get_model", "get_app_config", "is_installed", "import_module", "import_string"}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported project module
    line: int
    at_import_time: bool  # False for imports inside a function body or under `if TYPE_CHECKING:`


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def _nearest_module(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: dict) -> Iterator[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = module if is_package else module.rpartition(".")[0]
        for _level in range(node.level - 1):
            base = base.rpartition(".")[0]
        prefix = ".".join(part for part in (base if node.level else "", node.module or "") if part)
        # `from pkg import name` imports the submodule pkg.name when there is one, else pkg itself.
        names = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in modules else prefix for alias in node.names]
    for name in names:
        target = _nearest_module(name, modules)
        if target is not None and target != module:
            yield target


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _walk(node: ast.AST, at_import_time: bool) -> Iterator[tuple[ast.AST, bool]]:
    """Every node under `node`, flagged with whether it runs when the module is imported."""
    for child in ast.iter_child_nodes(node):
        runs_now = at_import_time and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        if _is_type_checking(child):
            runs_now = False
        yield child, runs_now
        yield from _walk(child, runs_now)


def imports_in(module: str, source: str, *, is_package: bool, modules: dict[str, Path]) -> list[Import]:
    """The project modules that `source` (the text of `module`) imports."""
    found = []
    for node, at_import_time in _walk(ast.parse(source), True):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found += [
                Import(module, target, node.lineno, at_import_time)
                for target in _targets(node, module, is_package, modules)
            ]
    return found


def project_imports() -> list[Import]:
    modules = project_modules()
    return [
        imp
        for module, path in modules.items()
        for imp in imports_in(
            module, path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py", modules=modules
        )
    ]


def _app_named_by(node: ast.Call) -> str | None:
    """The app a `get_model("campaigns", …)`/`import_string("campaigns.x")`-like call reaches, if any."""
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    if name not in APP_BY_NAME:
        return None
    for arg in node.args[:1]:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value.partition(".")[0]
    return None


def apps_named_by_string() -> list[tuple[str, str, int]]:
    named = []
    for module, path in project_modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and (app := _app_named_by(node)):
                named.append((module, app, node.lineno))
    return named


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """Each strongly connected group of modules (Tarjan), as one cycle through it."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.source, set()).add(imp.target)
        graph.setdefault(imp.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while node not in group:
                group.add(stack.pop())
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A readable path a → b → … → a inside one strongly connected group."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & group):
            if nxt == start:
                return paths[node] + [start]
            if nxt not in paths:
                paths[nxt] = paths[node] + [nxt]
                queue.append(nxt)
    return sorted(group)


def _app(module: str) -> str:
    return module.partition(".")[0]


def _higher_apps(app: str) -> tuple[str, ...]:
    return LAYERS[LAYERS.index(app) + 1 :] if app in LAYERS else ()


# ---------------------------------------------------------------- the finder finds


def test_the_cycle_finder_reports_a_cycle_and_ignores_a_chain():
    chain = [Import("a", "b", 1, True), Import("b", "c", 1, True)]
    assert import_cycles(chain) == []
    assert import_cycles([*chain, Import("c", "a", 1, True)]) == [["a", "b", "c", "a"]]


def test_the_import_reader_tells_load_time_imports_from_later_ones():
    modules = dict.fromkeys(["p", "p.a", "p.b", "p.c", "p.d", "q"])
    source = (
        "from . import b\nimport q\nfrom django.db import models\n"
        "def f():\n    from .c import x\n"
        "if TYPE_CHECKING:\n    from p import d\n"
    )
    assert [
        (imp.target, imp.at_import_time) for imp in imports_in("p.a", source, is_package=False, modules=modules)
    ] == [("p.b", True), ("q", True), ("p.c", False), ("p.d", False)]


def test_the_name_finder_sees_get_model_with_an_app_label():
    call = ast.parse('apps.get_model("campaigns", "TrackingEvent")').body[0].value
    assert _app_named_by(call) == "campaigns"


# ---------------------------------------------------------------- the rules


def test_no_project_module_imports_itself_back_when_loaded():
    cycles = import_cycles([imp for imp in project_imports() if imp.at_import_time])
    assert cycles == [], "import cycles: " + "; ".join(" → ".join(cycle) for cycle in cycles)


def test_a_lower_app_never_imports_a_higher_one():
    upward = [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in project_imports()
        if _app(imp.target) in _higher_apps(_app(imp.source))
    ]
    assert upward == []


def test_a_lower_app_never_reaches_a_higher_one_by_name():
    upward = [
        f"{module}:{line} names {app}"
        for module, app, line in apps_named_by_string()
        if app in _higher_apps(_app(module))
    ]
    assert upward == []


def test_what_the_apps_import_from_crm_imports_no_app():
    """The API base, permissions, parsers… sit below the apps; only the URL root gathers them."""
    imports = project_imports()
    used_by_apps = {imp.target for imp in imports if _app(imp.source) in LAYERS and _app(imp.target) == "crm"}
    back = [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in imports
        if imp.source in used_by_apps and _app(imp.target) in LAYERS
    ]
    assert back == []
