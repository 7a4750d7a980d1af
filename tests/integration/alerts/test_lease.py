from datetime import datetime, timedelta, timezone

from app.detection import lease

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def acquire(database, holder: str, seconds: float) -> bool:
    with database.write() as session:
        return lease.acquire(session, holder=holder, now=T0 + timedelta(seconds=seconds), ttl_s=30)


def test_only_one_holder_until_the_lease_expires(database) -> None:
    assert acquire(database, "a", 0)
    assert not acquire(database, "b", 1)
    assert acquire(database, "a", 20)  # renewal pushes expiry to 50 s
    assert not acquire(database, "b", 45)
    assert acquire(database, "b", 51)  # a stopped renewing: b takes over
    assert not acquire(database, "a", 52)
    with database.read() as session:
        assert lease.holds(session, holder="b", now=T0 + timedelta(seconds=52))
        assert not lease.holds(session, holder="a", now=T0 + timedelta(seconds=52))


def test_a_released_lease_is_free_at_once(database) -> None:
    assert acquire(database, "a", 0)
    with database.write() as session:
        lease.release(session, holder="a")
    assert acquire(database, "b", 1)
