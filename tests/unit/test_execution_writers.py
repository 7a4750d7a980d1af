"""One writer of execution rows: only app/automation/executions.py creates Execution rows or
changes their columns, so every state change passes remediations.lifecycle.step.

The check reads app/ with `ast`, it does not run it. An execution is recognised by name (any
name containing "execution"), by annotation (`x: Execution`), or by where it came from
(`row = session.get(Execution, ...)`, `for row in rows` over `select(Execution)` results).
Migrations (raw SQL on the table, outside the ORM) are not checked.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from app.automation.models import Execution

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path("app/automation/executions.py")
EXEMPT = {WRITER, Path("app/automation/models.py")}
COLUMNS = frozenset(column.key for column in Execution.__table__.columns)
BULK = {"update", "insert", "delete", "bulk_update_mappings", "bulk_insert_mappings"}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def writes(source: str) -> list[str]:
    """'<line>: <what>' for every Execution row write in a module's source."""
    tree = ast.parse(source)
    found: set[str] = set()
    for scope in [tree, *(n for n in ast.walk(tree) if isinstance(n, _SCOPES))]:
        nodes = list(_own_nodes(scope))
        executions = _execution_names(scope, nodes)
        for node in nodes:
            found.update(_writes_in(node, executions))
    return sorted(found, key=lambda w: (int(w.split(":")[0]), w))


def _own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of one scope, without descending into nested functions (each is its own)."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))


def _names_execution(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "Execution"


def _loads_executions(value: ast.AST, executions: set[str]) -> bool:
    """An expression giving execution rows: a call taking the Execution class (select, get,
    get_or_404, ...) or a name already known to hold them."""
    for node in ast.walk(value):
        if isinstance(node, ast.Call) and any(_names_execution(arg) for arg in node.args):
            return True
        if isinstance(node, ast.Name) and node.id in executions:
            return True
    return False


def _execution_names(scope: ast.AST, nodes: list[ast.AST]) -> set[str]:
    names = {n.id for n in nodes if isinstance(n, ast.Name) and "execution" in n.id.lower()}
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        arguments = [*scope.args.posonlyargs, *scope.args.args, *scope.args.kwonlyargs]
        names |= {
            a.arg
            for a in arguments
            if a.annotation is not None and re.search(r"\bExecution\b", ast.unparse(a.annotation))
        }
    while True:  # to a fixed point: rows -> for row in rows
        before = len(names)
        for node in nodes:
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and re.search(r"\bExecution\b", ast.unparse(node.annotation))
            ):
                names.add(node.target.id)
            elif isinstance(node, ast.Assign) and _loads_executions(node.value, names):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            elif (
                isinstance(node, (ast.For, ast.AsyncFor))
                and isinstance(node.target, ast.Name)
                and _loads_executions(node.iter, names)
            ):
                names.add(node.target.id)
        if len(names) == before:
            return names


def _targets(node: ast.AST) -> Iterator[ast.expr]:
    if isinstance(node, ast.Assign):
        pending = list(node.targets)
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        pending = [node.target]
    else:
        return
    while pending:
        target = pending.pop()
        if isinstance(target, (ast.Tuple, ast.List)):
            pending.extend(target.elts)
        elif isinstance(target, ast.Starred):
            pending.append(target.value)
        else:
            yield target


def _writes_in(node: ast.AST, executions: set[str]) -> Iterator[str]:
    for target in _targets(node):
        if (
            isinstance(target, ast.Attribute)
            and target.attr in COLUMNS
            and isinstance(target.value, ast.Name)
            and target.value.id in executions
        ):
            yield f"{target.lineno}: assigns {target.value.id}.{target.attr}"
    if not isinstance(node, ast.Call):
        return
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if name == "Execution":
        yield f"{node.lineno}: creates Execution(...)"
    elif name in BULK and node.args and _names_execution(node.args[0]):
        yield f"{node.lineno}: {name}(Execution)"
    elif (
        name in BULK
        and isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "__table__"
        and _names_execution(func.value.value)
    ):
        yield f"{node.lineno}: Execution.__table__.{name}()"
    elif name == "setattr" and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in executions:
        yield f"{node.lineno}: setattr({node.args[0].id}, ...)"


def test_only_the_executions_module_writes_execution_rows() -> None:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "app").rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative in EXEMPT or relative.parts[:2] == ("app", "migrations"):
            continue
        if hits := writes(path.read_text(encoding="utf-8")):
            found[str(relative)] = hits
    assert found == {}, f"move these writes into {WRITER}: {found}"


def test_the_executions_module_is_seen_writing() -> None:
    # The check sees through the writer itself, so it is not blind to how writes look.
    hits = " ".join(writes((ROOT / WRITER).read_text(encoding="utf-8")))
    for write in (
        "creates Execution(...)",
        "update(Execution)",
        "assigns execution.state",
        "assigns execution.reason",
        "assigns execution.outcome",
    ):
        assert write in hits


SAMPLE = """
def by_name(session, execution_id):
    execution = load(execution_id)
    execution.state = "running"
    execution.pid, execution.started_at = 1, now
    session.add(Execution(state="queued"))
    session.execute(update(Execution).where(Execution.id == 1).values(state="queued"))
    session.execute(sa.insert(Execution).values(state="queued"))
    session.execute(Execution.__table__.delete())

def by_type(e: Execution, x: "Execution | None") -> None:
    e.reason = "why"
    x.exit_code += 1

def by_source(session):
    row = session.get(Execution, 7)
    row.output = ""
    rows = session.scalars(select(Execution)).all()
    for other in rows:
        setattr(other, "state", "error")

def not_executions(session, alert, row: AutomationState):
    alert.state = "firing"          # an alert's column of the same name
    row.reason = "paused"           # typed as something else
    binding = session.get(Binding, 1)
    binding.queue = "default"
    execution_count = 0             # a plain name, not an attribute
    session.execute(update(Alert).values(state="resolved"))
"""


def test_the_check_catches_each_kind_of_write_and_nothing_else() -> None:
    assert writes(SAMPLE) == [
        "4: assigns execution.state",
        "5: assigns execution.pid",
        "5: assigns execution.started_at",
        "6: creates Execution(...)",
        "7: update(Execution)",
        "8: insert(Execution)",
        "9: Execution.__table__.delete()",
        "12: assigns e.reason",
        "13: assigns x.exit_code",
        "17: assigns row.output",
        "20: setattr(other, ...)",
    ]


def test_the_slot_index_names_exactly_the_active_states() -> None:
    # The partial unique index spells the states out for the database; it must follow the table.
    from sqlalchemy import Table

    from remediations.lifecycle import ACTIVE

    table = Execution.__table__
    assert isinstance(table, Table)
    [index] = [i for i in table.indexes if i.name == "uq_executions_active_binding_fingerprint"]
    for dialect in ("sqlite", "postgresql"):
        where = str(index.dialect_options[dialect]["where"])
        assert set(re.findall(r"'(\w+)'", where)) == {state.value for state in ACTIVE}
