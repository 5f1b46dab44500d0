"""Import rules of the code base, read from the source with `ast` (every import statement,
those inside functions too), so that no import can hide from them.

- Production code never needs the sandbox: nothing under aspsp/, consent/ or developer_portal/
  imports `sandbox`. The composition root, bank.py, wires it in only when SANDBOX_ENABLED (and
  names its tables for the migrations' schema).
- The ledger's modules form no import cycle: services send tasks through one dispatch point,
  tasks call services.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]



def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_under(*packages: str) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def import_statements(name: str, path: Path) -> list[tuple[ast.stmt, set[str]]]:
    """Every import statement of `path` with the modules it names, relative imports resolved;
    `from a import b` names both `a` and `a.b` (b may be a submodule)."""
    is_package = path.name == "__init__.py"
    package = name.split(".") if is_package else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.append((node, {alias.name for alias in node.names}))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module
            found.append((node, {origin} | {f"{origin}.{alias.name}" for alias in node.names}))
    return found


def imported_modules(name: str, path: Path) -> set[str]:
    return set().union(*(modules for _, modules in import_statements(name, path)))


def imports_package(imports: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in imports)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph` (module -> modules it imports), one path per cycle found."""
    found, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                found.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return found


def test_production_code_never_imports_the_sandbox():
    offenders = {name: sorted(m for m in imported_modules(name, path)
                              if m == "sandbox" or m.startswith("sandbox."))
                 for name, path in modules_under("aspsp", "consent", "developer_portal").items()}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_authorization_server_the_apis_and_consent_never_import_the_sandbox():
    modules = modules_under("aspsp/oauth", "aspsp/ais", "aspsp/identity", "aspsp/ledger",
                            "consent")
    assert modules, "the packages moved: update this test"
    assert [name for name, path in modules.items()
            if imports_package(imported_modules(name, path), "sandbox")] == []


def test_the_composition_root_wires_the_sandbox_only_when_it_is_enabled():
    """In bank.py, the sandbox's code is imported only under an `if` that tests
    SANDBOX_ENABLED; its models only where the migrations' schema is built (`schema()`)."""
    path = ROOT / "bank.py"
    tree = ast.parse(path.read_text())
    guarded = {node.lineno for branch in ast.walk(tree)
               if isinstance(branch, ast.If) and "SANDBOX_ENABLED" in ast.unparse(branch.test)
               for statement in branch.body for node in ast.walk(statement)
               if isinstance(node, ast.stmt)}
    schema = next(node for node in tree.body
                  if isinstance(node, ast.FunctionDef) and node.name == "schema")
    in_schema = {node.lineno for node in ast.walk(schema) if isinstance(node, ast.stmt)}
    sandbox_imports = [node for node, modules in import_statements("bank", path)
                       if imports_package(modules, "sandbox")]
    assert sandbox_imports, "bank.py no longer wires the sandbox: update this test"
    assert [ast.unparse(node) for node in sandbox_imports
            if node.lineno not in guarded and node.lineno not in in_schema] == []
    assert [ast.unparse(node) for node in sandbox_imports if node.lineno in in_schema] == [
        "from sandbox import models, test_data_models"]


def test_the_ledger_modules_import_no_cycle():
    modules = modules_under("aspsp/ledger")
    graph = {name: {m for m in imported_modules(name, path)
                    if m in modules and not _is_ancestor(m, name)}
             for name, path in modules.items()}
    assert cycles(graph) == []


def _is_ancestor(package: str, module: str) -> bool:
    """A module's own packages are imported before it anyway: not an edge of a cycle."""
    return module == package or module.startswith(package + ".")


def test_the_cycle_finder_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
