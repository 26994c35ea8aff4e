"""Growing delays after repeated failures, on counters named by a kind and a value: a name from
one address, a name, an address (passwords, see ``signin.services``) and a person's MFA codes.

Not a hard lockout: after ``free`` failures each further failure doubles the wait (1 s, 2 s, 4 s …)
up to ``max_delay``; a success clears the counters it vouches for, and counters forget after an
hour without failures. Keys are hashed so the table holds no typed names.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction

from watchword.signin.models import Throttle

FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Limit:
    free: int
    max_delay: int
    base: int = 1  # the first wait, in seconds


def delay_after(failures: int, limit: Limit) -> int:
    """Seconds to wait after ``failures`` consecutive failures (pure)."""
    if failures < limit.free:
        return 0
    return min(limit.base * 2 ** (failures - limit.free), max(limit.max_delay, limit.base))


def key_for(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()[:40]}"


@dataclass(frozen=True)
class Standing:
    wait: int  # seconds until every key allows another attempt (0 = now)
    counted: frozenset[str]  # keys that have a counter (only these need clearing)


def standing(keys: list[str], now: datetime) -> Standing:
    """One read for both questions a sign-in step asks: must it wait, and is there anything to
    clear after a success."""
    worst = 0
    counted = set()
    # Every sign-in step and code check reads this: a prepared query, not one the ORM builds each time.
    key = connection.ops.quote_name("key")
    rows = Throttle.objects.raw(f"SELECT id, {key}, blocked_until FROM {Throttle._meta.db_table} "
                                f"WHERE {key} IN ({', '.join(['%s'] * len(keys))})", list(keys)) if keys else []
    for row in rows:
        counted.add(row.key)
        if row.blocked_until and row.blocked_until > now:
            worst = max(worst, math.ceil((row.blocked_until - now).total_seconds()))
    return Standing(wait=worst, counted=frozenset(counted))


def wait_phrase(seconds: int) -> str:
    """"Wait 1 second" / "Wait 4 seconds", for every message that asks someone to wait."""
    return f"Wait {seconds} second{'' if seconds == 1 else 's'}"


def record_failure(key: str, limit: Limit, now: datetime) -> int:
    for _ in range(2):
        try:
            with transaction.atomic():
                row = Throttle.objects.select_for_update().filter(key=key).first()
                if row is None:
                    row = Throttle.objects.create(key=key, failures=0, last_failure_at=now)
                if now - row.last_failure_at > FORGET_AFTER:
                    row.failures = 0
                row.failures += 1
                row.last_failure_at = now
                delay = delay_after(row.failures, limit)
                row.blocked_until = now + timedelta(seconds=delay) if delay else None
                row.save()
            if secrets.randbelow(200) == 0:  # now and then, forget old counters
                purge_stale(now)
            return delay
        except IntegrityError:  # created concurrently by another process; retry once
            continue
    return 0


def purge_stale(now: datetime) -> int:
    """Forget counters with no failure for an hour and no wait running."""
    deleted, _ = Throttle.objects.filter(last_failure_at__lt=now - FORGET_AFTER).exclude(
        blocked_until__gt=now).delete()
    return deleted


def clear(key: str, standing: Standing | None = None) -> None:
    """Forget ``key``'s failures. Given the ``standing`` read earlier in the same step, a key with
    no counter costs nothing (no write, so no SQLite write lock on every successful sign-in)."""
    if standing is not None and key not in standing.counted:
        return
    Throttle.objects.filter(key=key).delete()
