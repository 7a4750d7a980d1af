"""One publisher: only app/events.py writes timeline rows, audit records and chat outbox rows.

Services say what happened with app.events.Event and `publish`; a module that adds an
AlertEvent, calls app.audit.service.record or one of app.notify.service's enqueue_*
functions itself is a side door the SINKS table does not show.

The check reads app/ with `ast`, it does not run it. It resolves how each module imported
app.audit.service and app.notify.service (`from app.audit import service as audit`,
`from app.audit.service import record as r`, `import app.notify.service as n`, ...), so a
renamed import is still seen; the chat enqueue functions are also caught by name alone.
Migrations (raw SQL, outside the ORM) are not checked.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PUBLISHER = Path("app/events.py")
TABLES = ("AlertEvent", "AuditRecord", "OutboxMessage")  # the timeline, the audit log, the chat outbox
CHAT = {"enqueue_alert", "enqueue_remediation", "enqueue_answer", "enqueue_ephemeral", "enqueue_diagnosed"}
AUDIT_MODULE, NOTIFY_MODULE = "app.audit.service", "app.notify.service"
RAW_INSERT = re.compile(r"\binsert\s+into\s+\"?(alert_events|audit_records|notification_outbox)\b", re.IGNORECASE)

# The sinks themselves, which publish calls, and one timer; each write they may make, and why.
ALLOWED: dict[Path, dict[str, str]] = {
    Path("app/audit/service.py"): {
        "creates AuditRecord(...)": "record() is the audit chain: it appends a record and moves the head",
    },
    Path("app/notify/service.py"): {
        "creates OutboxMessage(...)": "the outbox's own module builds the rows publish's chat events ask for",
        "calls notify.enqueue_alert": "enqueue_remediation is an alert message with the run attached",
    },
    Path("app/scheduler.py"): {
        "calls notify.enqueue_repeats": "reminders of alerts still firing: a timer over sent rows, not a new event",
    },
}


def _aliases(tree: ast.AST) -> tuple[set[str], set[str], dict[str, str]]:
    """Names bound to app.audit.service, to app.notify.service, and to functions imported from
    either ({local name: "audit.record" | "notify.enqueue_x"})."""
    audit_names: set[str] = set()
    notify_names: set[str] = set()
    functions: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("app.audit", "app.notify"):
            for alias in node.names:
                if alias.name == "service":
                    (audit_names if node.module == "app.audit" else notify_names).add(alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module in (AUDIT_MODULE, NOTIFY_MODULE):
            short = "audit" if node.module == AUDIT_MODULE else "notify"
            functions.update({alias.asname or alias.name: f"{short}.{alias.name}" for alias in node.names})
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in (AUDIT_MODULE, NOTIFY_MODULE) and alias.asname:
                    (audit_names if alias.name == AUDIT_MODULE else notify_names).add(alias.asname)
    return audit_names, notify_names, functions


def _called(func: ast.expr, audit_names: set[str], notify_names: set[str], functions: dict[str, str]) -> str | None:
    """'audit.record' / 'notify.enqueue_x' when a call's target is one of them, else None."""
    if isinstance(func, ast.Name):
        name = functions.get(func.id, "")
        if name == "audit.record" or name.startswith("notify.enqueue_"):
            return name
        return f"notify.{func.id}" if func.id in CHAT else None
    if not isinstance(func, ast.Attribute):
        return None
    owner = ast.unparse(func.value)
    if func.attr == "record" and (owner in audit_names or owner == AUDIT_MODULE):
        return "audit.record"
    if func.attr.startswith("enqueue_") and (owner in notify_names or owner == NOTIFY_MODULE or func.attr in CHAT):
        return f"notify.{func.attr}"
    return None


def writes(source: str) -> list[str]:
    """'<line>: <what>' for every timeline, audit or outbox write in a module's source."""
    tree = ast.parse(source)
    audit_names, notify_names, functions = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and (raw := RAW_INSERT.search(node.value)):
            found.append((node.lineno, f"inserts into {raw.group(1)} (SQL)"))
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in TABLES:
            found.append((node.lineno, f"creates {name}(...)"))
        elif name == "insert" and node.args and ast.unparse(node.args[0]).split(".")[-1] in TABLES:
            found.append((node.lineno, f"inserts {ast.unparse(node.args[0]).split('.')[-1]}"))
        elif (
            name == "insert"
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "__table__"
            and ast.unparse(func.value.value).split(".")[-1] in TABLES
        ):
            found.append((node.lineno, f"inserts {ast.unparse(func.value.value).split('.')[-1]}"))
        elif called := _called(func, audit_names, notify_names, functions):
            found.append((node.lineno, f"calls {called}"))
    return [f"{line}: {what}" for line, what in sorted(found)]


def test_only_the_publisher_writes_timeline_audit_and_outbox_rows() -> None:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "app").rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative == PUBLISHER or relative.parts[:2] == ("app", "migrations"):
            continue
        allowed = ALLOWED.get(relative, {})
        hits = [w for w in writes(path.read_text(encoding="utf-8")) if w.split(": ", 1)[1] not in allowed]
        if hits:
            found[str(relative)] = hits
    assert found == {}, f"publish these as app.events.Event (a kind in SINKS) instead: {found}"


def test_every_allowance_is_still_used() -> None:
    # An allowance left behind after its write went away would hide the next one.
    for path, allowed in ALLOWED.items():
        seen = {w.split(": ", 1)[1] for w in writes((ROOT / path).read_text(encoding="utf-8"))}
        assert set(allowed) <= seen, f"{path}: no longer {set(allowed) - seen}; drop the allowance"


def test_the_publisher_is_seen_writing() -> None:
    # The check sees through the publisher itself, so it is not blind to how its writes look.
    hits = " ".join(writes((ROOT / PUBLISHER).read_text(encoding="utf-8")))
    for write in (
        "creates AlertEvent(...)",
        "calls audit.record",
        "calls notify.enqueue_alert",
        "calls notify.enqueue_remediation",
        "calls notify.enqueue_answer",
        "calls notify.enqueue_ephemeral",
        "calls notify.enqueue_diagnosed",
    ):
        assert write in hits


SAMPLE = """
from app.audit import service as audit
from app.audit.service import record as write_audit
from app.notify import service
import app.notify.service as outbox
from app.notify.service import enqueue_answer as answer

def side_doors(session, config, alert, execution, now):
    session.add(AlertEvent(alert_id=alert.id, at=now, kind="acked"))
    audit.record(session, actor="a", action="alert.ack", target="alert:1")
    write_audit(session, actor="a", action="alert.ack", target="alert:1")
    service.enqueue_alert(session, config, alert=alert, event="alert.firing", now=now)
    outbox.enqueue_repeats(session, config, now=now)
    answer(session, config, execution=execution, outcome="approved", text="ok", now=now)
    notifier.enqueue_remediation(session, config, execution=execution, event="remediation.started", now=now)
    session.execute(insert(models.AuditRecord).values(action="x"))
    session.execute(OutboxMessage.__table__.insert().values(channel="ops"))
    session.execute(text("INSERT INTO alert_events (alert_id, kind) VALUES (1, 'firing')"))

def not_side_doors(session, queue, alert):
    logs.record(method="GET", endpoint="/", path="/", status=200, elapsed_s=0.1, rid="r", actor="a")
    queue.enqueue(run, 7)                   # an RQ job, not a chat message
    session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id))
    publish(session, [Event("alert.ack", now, alert=alert)])
"""


def test_the_check_catches_each_kind_of_write_and_nothing_else() -> None:
    assert writes(SAMPLE) == [
        "9: creates AlertEvent(...)",
        "10: calls audit.record",
        "11: calls audit.record",
        "12: calls notify.enqueue_alert",
        "13: calls notify.enqueue_repeats",
        "14: calls notify.enqueue_answer",
        "15: calls notify.enqueue_remediation",
        "16: inserts AuditRecord",
        "17: inserts OutboxMessage",
        "18: inserts into alert_events (SQL)",
    ]
