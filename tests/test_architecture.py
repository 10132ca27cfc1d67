"""The package's floors, read from the source: no import cycle between modules, no import that
runs up a floor, and no Qt outside ``gui/`` (imports inside functions count too: a lazy import
is still a dependency)."""

from __future__ import annotations

import ast
from pathlib import Path

import wnet_gui

PACKAGE = Path(wnet_gui.__file__).resolve().parent

# lowest first; a module may import its own floor or any floor below
FLOORS = (
    {"wnet_gui", "settings", "regular_file", "geometry"},
    {"slides", "detection", "models", "datasets"},
    {"annotations"},
    {"engine", "evaluation", "training", "nuclick", "classify", "cohort"},
    {"projects", "adaptation"},
    {"cli", "gui"},
)


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def import_graph() -> dict[str, set[str]]:
    """module → the package's modules it imports, anywhere in its body."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
                targets = submodules if len(submodules) == len(node.names) else [target, *submodules]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def test_every_import_of_the_package_names_a_module_that_exists():
    """Lazy imports inside functions fail only when they run: read them all here."""
    modules = _modules()
    missing = []
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                if target not in modules:
                    missing.append(f"{name}: from {'.' * node.level}{node.module or ''}")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                missing += [f"{name}: import {n}" for n in names if n.startswith("wnet_gui.") and n not in modules]
    assert missing == []


def _floor(module: str) -> int:
    top = module.split(".")[1] if "." in module else module
    for k, members in enumerate(FLOORS):
        if top in members:
            return k
    raise AssertionError(f"{module}: its folder {top!r} is on no floor; add it to FLOORS")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_runs_up_a_floor():
    upward = sorted(f"{a} -> {b}" for a, targets in import_graph().items() for b in targets if _floor(b) > _floor(a))
    assert upward == []


def test_only_the_gui_imports_qt():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "gui" in path.relative_to(PACKAGE).parts[:1]:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        if any(name.split(".")[0] in ("PySide6", "PyQt5", "PyQt6") for name in names):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


# the window's assembly: these build the features and may hold the whole window
ASSEMBLY = {"main_window.py", "menus.py", "app.py", "context.py"}


def _named(node: ast.AST) -> str | None:
    """``ctx`` for both ``ctx`` and ``self.ctx``."""
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def context_attributes() -> set[str]:
    """What ``FeatureContext`` offers, read from its source: its methods and signals, and the
    attributes its ``__init__`` sets."""
    tree = ast.parse((PACKAGE / "gui" / "context.py").read_text(encoding="utf-8"))
    context = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "FeatureContext")
    names = {n.name for n in context.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}
    names |= {t.id for n in context.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}  # signals
    for node in ast.walk(context):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.attr for t in targets if isinstance(t, ast.Attribute) and _named(t.value) == "self"}
    return names


def window_reaches(source: str) -> list[str]:
    """What a GUI feature module reaches beyond its narrow context: a ``window`` it holds, an
    attribute of the context that the context does not define, or anything of ``ctx.host``
    but being a Qt parent."""
    allowed = context_attributes()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and node.id == "window":
            found.append("window")
        elif isinstance(node, ast.Attribute) and node.attr == "window":
            found.append(".window")
        elif isinstance(node, ast.Attribute) and _named(node.value) == "ctx" and node.attr not in allowed:
            found.append(f"ctx.{node.attr}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "host":
            found.append(f"host.{node.attr}")
    return found


def test_gui_features_reach_only_their_context():
    reached = {}
    for path in sorted((PACKAGE / "gui").glob("*.py")):
        if path.name not in ASSEMBLY:
            found = window_reaches(path.read_text(encoding="utf-8"))
            if found:
                reached[path.name] = sorted(set(found))
    assert reached == {}


def test_the_context_check_sees_a_reach_into_the_window():
    assert window_reaches("self.window.detection.start()") == [".window"]
    assert window_reaches("ctx = self.ctx\nctx.classes.sync_from_store()") == ["ctx.classes"]
    assert window_reaches("self.ctx.host.detection.start()") == ["host.detection"]
    assert window_reaches("QMessageBox.question(self.ctx.host, 't', 'x')\nself.ctx.store.add(1)") == []
