"""The layout's rules, checked over slawatch's source with the stdlib `ast` (nothing imported).

STYLE.md's conventions as tests: a pure core that imports no I/O library and no edge module
(followed transitively through slawatch's own imports, where importing `a.b.c` also runs
`a/__init__.py` and `a/b/__init__.py`); the wall clock read only by the composition root;
no reaching into another package's private names; an explicit `__all__` on every package.
Every import statement counts, wherever it is (inside a function, under `if TYPE_CHECKING:`):
a dependency is a dependency. Each test lists every violation as `module: what`.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

IO_LIBRARIES = frozenset({
    "sqlalchemy", "alembic", "requests", "urllib3", "http", "socket", "subprocess", "psycopg", "sqlite3",
    "slack_sdk", "prometheus_api_client", "prometheus_client", "apscheduler", "waitress", "structlog",
    "logging", "threading", "os", "pathlib",
})
EDGE_PACKAGES = ("slawatch.store", "slawatch.notify.stages", "slawatch.cli")  # and everything inside
EDGE_MODULES = frozenset({
    "slawatch.source", "slawatch.notify.senders", "slawatch.notify.dispatcher", "slawatch.web",
    "slawatch.daemon", "slawatch.metrics", "slawatch.logs",
})
PURE_MODULES = ("slawatch.model", "slawatch.rules.alerting", "slawatch.report.attainment",
                "slawatch.report.percentiles", "slawatch.oncall", "slawatch.escalation", "slawatch.incidents.lifecycle",
                "slawatch.config.reload", "slawatch.notify.ratelimit")
PURE_PACKAGES = ("slawatch.sla", "slawatch.gotemplate")  # and everything inside

CLOCK_READERS = ("slawatch.daemon", "slawatch.cli")  # the composition root, and everything inside
WALL_CLOCK = frozenset({
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today",
    "time.time", "time.time_ns",
})


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool

    @property
    def package(self) -> str:
        """The package this module belongs to (a package's own `__init__` belongs to itself)."""
        return self.name if self.is_package else self.name.rpartition(".")[0]

    @property
    def tree(self) -> ast.Module:
        return _parse(self.path)


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@cache
def modules(root: Path = ROOT) -> dict[str, Module]:
    """Every module of slawatch (under `root`) by dotted name, read from the file tree."""
    out = {}
    for path in sorted((root / "slawatch").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        out[name] = Module(name, path, is_package)
    return out


def _within(name: str, prefixes: tuple[str, ...] | frozenset[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _with_parents(name: str) -> list[str]:
    """`a.b.c` -> [`a`, `a.b`, `a.b.c`]: importing a module runs every package `__init__` above it."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    """The module an `ImportFrom` names, with relative imports resolved against `module`."""
    if not node.level:
        return node.module or ""
    base = module.package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported(module: Module, known: dict[str, Module] | None = None) -> tuple[set[str], set[str]]:
    """(slawatch modules, top-level names of other libraries) that `module` imports anywhere in it."""
    known = modules() if known is None else known
    internal: set[str] = set()
    external: set[str] = set()

    def add(name: str) -> None:
        if _within(name, ("slawatch",)):
            internal.update(n for n in _with_parents(name) if n in known)
        else:
            external.add(name.split(".")[0])

    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, node)
            add(target)
            for alias in node.names:
                if f"{target}.{alias.name}" in known:  # `from slawatch.store import tickets`
                    add(f"{target}.{alias.name}")
    internal.discard(module.name)
    return internal, external


def _chain(parents: dict[str, str | None], end: str) -> str:
    path = [end]
    while parents[path[-1]] is not None:
        path.append(parents[path[-1]])  # type: ignore[arg-type]
    return " -> ".join(reversed(path))


def pure_module_names() -> list[str]:
    known = modules()
    names = [n for n in PURE_MODULES if n in known]  # report.percentiles may not exist yet
    names += [n for n in known if _within(n, PURE_PACKAGES)]
    return sorted(set(names))


def io_reached(start: str, known: dict[str, Module]) -> list[str]:
    """Every I/O library and edge module `start` imports, directly or through slawatch modules,
    each once, with the shortest import chain that reaches it."""
    # importing `start` runs the __init__ of every package above it: those come first
    parents: dict[str, str | None] = {start: None}
    parents.update({n: start for n in _with_parents(start)[:-1] if n in known})
    queue = deque(parents)
    reached: set[str] = set()
    found = []
    while queue:
        name = queue.popleft()
        if name != start and (_within(name, EDGE_PACKAGES) or name in EDGE_MODULES):
            found.append(f"imports edge module {name} (via {_chain(parents, name)})")
            continue
        internal, external = imported(known[name], known)
        for lib in sorted((external & IO_LIBRARIES) - reached):
            reached.add(lib)
            found.append(f"imports {lib}" + ("" if name == start else f" (via {_chain(parents, name)})"))
        for nxt in sorted(internal - parents.keys()):
            parents[nxt] = name
            queue.append(nxt)
    return found


def test_the_pure_core_imports_no_io_library_and_no_edge_module_even_indirectly() -> None:
    """A pure module, and every slawatch module it imports transitively, imports no I/O library
    and is not an edge module (store, source, senders, dispatcher, stages, web, daemon, cli, ...)."""
    violations = [f"{start}: {hit}" for start in pure_module_names() for hit in io_reached(start, modules())]
    assert not violations, "pure modules reach I/O:\n" + "\n".join(violations)


def _qualified_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> what it stands for, from every import in the module (`dt` -> `datetime`)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr) -> list[str] | None:
    """`a.b.c` as [a, b, c]; None for anything that is not a plain name and attributes."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return list(reversed(parts))


def wall_clock_reads(module: Module) -> list[str]:
    """Every call of, or reference to, a wall-clock function, as `line N: source (qualified name)`."""
    names = _qualified_names(module.tree)
    found = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Attribute) or (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
            parts = _dotted(node)
            if parts is None or parts[0] not in names:
                continue
            qualified = ".".join([names[parts[0]], *parts[1:]])
            if qualified in WALL_CLOCK:
                found.append((node.lineno, node.col_offset, f"line {node.lineno}: {'.'.join(parts)} ({qualified})"))
    return [text for *_, text in sorted(found)]


def test_only_the_daemon_and_the_cli_read_the_wall_clock() -> None:
    """Outside slawatch.daemon and slawatch.cli, nothing calls or even references datetime.now,
    datetime.utcnow, datetime.today, date.today, time.time or time.time_ns (monotonic is fine)."""
    violations = [
        f"{m.name}: {read}"
        for m in modules().values()
        if not _within(m.name, CLOCK_READERS)
        for read in wall_clock_reads(m)
    ]
    assert not violations, "the wall clock is read outside the composition root:\n" + "\n".join(violations)


def _unit(name: str) -> str:
    """What counts as 'one package' for private names: a subpackage (`slawatch.gotemplate`,
    `slawatch.notify.stages`), or the module itself for top-level modules (`slawatch.model`)."""
    module = modules().get(name)
    owner = module.package if module else name.rpartition(".")[0]
    return name if owner == "slawatch" and not (module and module.is_package) else owner


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(module: Module) -> list[str]:
    """`_name`s taken from a slawatch module of another package: imported, or read as `alias._name`."""
    known = modules()
    home = _unit(module.name)
    found = []
    aliases: dict[str, str] = {}  # local name -> the slawatch module it is bound to
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _within(alias.name, ("slawatch",)):
                    if alias.asname:  # `import slawatch.a.b as b` binds b; `import slawatch.a.b` binds slawatch
                        aliases[alias.asname] = alias.name
                    else:
                        aliases["slawatch"] = "slawatch"
                    if any(_private(p) for p in alias.name.split(".")) and _unit(alias.name) != home:
                        found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, node)
            if not _within(target, ("slawatch",)):
                continue
            for alias in node.names:
                if f"{target}.{alias.name}" in known:
                    aliases[alias.asname or alias.name] = f"{target}.{alias.name}"
                if _private(alias.name) and _unit(target) != home:
                    found.append(f"line {node.lineno}: from {target} import {alias.name}")
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            parts = _dotted(node.value)
            if parts is None or parts[0] not in aliases:
                continue
            target = ".".join([aliases[parts[0]], *parts[1:]])
            if target in known and _unit(target) != home:
                found.append(f"line {node.lineno}: {'.'.join(parts)}.{node.attr}")
    return found


def test_no_module_uses_a_private_name_of_another_slawatch_package() -> None:
    """A `_private` name of a slawatch module is used only inside that module's own package."""
    violations = [f"{m.name}: {hit}" for m in modules().values() for hit in private_imports(m)]
    assert not violations, "private names used across packages:\n" + "\n".join(violations)


def _declares_all(tree: ast.Module) -> bool:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return True
    return False


def test_every_package_declares_its_public_surface_in_all() -> None:
    """Every package below slawatch/ (config, rules, notify.stages, ...) assigns `__all__` in its __init__.py."""
    packages = [m for m in modules().values() if m.is_package and m.name != "slawatch"]
    assert packages, "no packages found: the test reads the wrong tree"
    violations = [f"{m.name}: {m.path.relative_to(ROOT)} has no __all__" for m in packages if not _declares_all(m.tree)]
    assert not violations, "packages without __all__:\n" + "\n".join(violations)


# The checks themselves, on small sources, so a passing rule is not a rule that sees nothing.


def _module_from(tmp_path: Path, name: str, source: str) -> Module:
    path = tmp_path / (name.replace(".", "_") + ".py")
    path.write_text(source)
    return Module(name, path, False)


def test_the_clock_check_resolves_import_aliases(tmp_path: Path) -> None:
    """Each alias form of a wall-clock read is found; monotonic and a parsed timestamp are not."""
    source = (
        "import datetime as dt\nimport time\nfrom datetime import date, datetime\nfrom time import time_ns as ns\n"
        "a = dt.datetime.now()\nb = time.time()\nc = date.today()\nd = ns\ne = datetime.utcnow\n"
        "f = time.monotonic()\ng = datetime.fromisoformat('2026-01-01')\n"
    )
    reads = wall_clock_reads(_module_from(tmp_path, "slawatch.fake", source))
    assert [r.split(":")[0] for r in reads] == ["line 5", "line 6", "line 7", "line 8", "line 9"]


def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Module]:
    for name, source in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return modules(tmp_path)


def test_the_import_graph_sees_package_inits_submodules_and_relative_imports(tmp_path: Path) -> None:
    """`from slawatch.store import tickets` imports slawatch, slawatch.store and slawatch.store.tickets;
    `from . import x` resolves against the package; other libraries count by their top-level name."""
    known = _tree(tmp_path, {
        "slawatch/__init__.py": "", "slawatch/store/__init__.py": "", "slawatch/store/tickets.py": "",
        "slawatch/core/__init__.py": "", "slawatch/core/plan.py": "",
        "slawatch/core/fake.py": "from slawatch.store import tickets\nfrom . import plan\nimport sqlalchemy.exc\n",
    })
    internal, external = imported(known["slawatch.core.fake"], known)
    assert internal == {"slawatch", "slawatch.store", "slawatch.store.tickets", "slawatch.core", "slawatch.core.plan"}
    assert external == {"sqlalchemy"}


def test_the_purity_check_follows_imports_through_package_inits(tmp_path: Path) -> None:
    """A module importing a sibling whose package __init__ imports os, or an edge module, is caught,
    each with the chain of imports that reaches it."""
    known = _tree(tmp_path, {
        "slawatch/__init__.py": "",
        "slawatch/core.py": "from slawatch.helpers.maths import add\nimport math\n",
        "slawatch/helpers/__init__.py": "from slawatch.helpers.files import read\n",
        "slawatch/helpers/maths.py": "",
        "slawatch/helpers/files.py": "import os\nfrom slawatch import metrics\n",
        "slawatch/metrics.py": "import prometheus_client\n",
    })
    assert io_reached("slawatch.core", known) == [
        "imports os (via slawatch.core -> slawatch.helpers -> slawatch.helpers.files)",
        "imports edge module slawatch.metrics (via slawatch.core -> slawatch.helpers -> slawatch.helpers.files"
        " -> slawatch.metrics)",
    ]
    assert io_reached("slawatch.helpers.maths", known)[0].startswith("imports os (via slawatch.helpers.maths -> ")


def test_the_private_name_check_allows_its_own_package_only(tmp_path: Path) -> None:
    """Inside slawatch.gotemplate a private import is allowed; from slawatch.rules it is not."""
    source = "from slawatch.gotemplate.values import _CallError\nfrom slawatch.gotemplate import values\nx = values._go_quote\n"
    inside = Module("slawatch.gotemplate.fake", _module_from(tmp_path, "a", source).path, False)
    outside = Module("slawatch.rules.fake", _module_from(tmp_path, "b", source).path, False)
    assert private_imports(inside) == []
    assert private_imports(outside) == [
        "line 1: from slawatch.gotemplate.values import _CallError",
        "line 3: values._go_quote",
    ]
