"""What the PostgreSQL race tests share: a write that another session's transaction holds open."""

import threading
import time
from collections.abc import Callable

from django.db import connections, transaction


def write_held_until_waited_on(write: Callable[[], object]) -> tuple[threading.Thread, threading.Event, list]:
    """Run `write` in a transaction of its own, on another thread and connection, and keep that transaction
    open until some session waits on a lock (the test's own statement, issued once the returned event is set),
    or 10 s have passed; then commit. Returns the thread, the event and the list of the errors it met."""
    written, errors = threading.Event(), []

    def run() -> None:
        try:
            with transaction.atomic():
                write()
                written.set()
                with connections["default"].cursor() as cursor:  # this thread's own connection
                    for _ in range(200):
                        cursor.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND wait_event_type = 'Lock'"
                        )
                        if cursor.fetchone()[0]:
                            break
                        time.sleep(0.05)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            written.set()
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, written, errors
