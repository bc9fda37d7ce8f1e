"""The embedded broker of `make run`: kombu's filesystem transport, made safe against a killed worker.

kombu's own filesystem transport deletes a message file the moment a worker takes it, so a worker
killed mid-task (or holding a countdown task until its time) loses it. Here a taken message is moved
to `unacked/` under a name that carries the consuming process's pid and is deleted only on ack;
when a worker starts consuming, the unacked files of processes that are no longer alive go back to
the queue. That is the at-least-once delivery Redis gives production workers, on plain files, so
the default install needs no server. The tasks themselves are idempotent, as they are for Redis.

Selected with `CELERY_BROKER_URL` unset outside tests (see crm/settings.py), as `crmfs://`.
"""

from __future__ import annotations

import os
from pathlib import Path
from queue import Empty

from kombu.transport import TRANSPORT_ALIASES, filesystem, virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

ALIAS = "crmfs"


def folders(base: Path) -> dict[str, str]:
    """The transport options for a broker kept under `base` (created if missing)."""
    queue, control = base / "queue", base / "control"
    for folder in (queue, control, base / "unacked"):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "control_folder": str(control),
        "unacked_folder": str(base / "unacked"),
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class QoS(virtual.QoS):
    def ack(self, delivery_tag):
        super().ack(delivery_tag)
        self.channel._forget(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        super().reject(delivery_tag, requeue=requeue)
        self.channel._forget(delivery_tag)


class Channel(filesystem.Channel):
    QoS = QoS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._unacked_files: dict[str, str] = {}
        self._recovered = False

    @property
    def unacked_folder(self) -> str:
        return self.transport_options.get("unacked_folder", "unacked")

    def basic_consume(self, queue, no_ack, callback, consumer_tag, **kwargs):
        if not self._recovered:
            self._recovered = True
            self.recover_orphans()
        return super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)

    def recover_orphans(self) -> int:
        """Put back the messages that a dead consumer took and never acknowledged."""
        moved = 0
        for name in sorted(os.listdir(self.unacked_folder)):
            pid, _, original = name.partition("-")
            if not pid.isdigit() or _alive(int(pid)):
                continue
            try:
                os.replace(os.path.join(self.unacked_folder, name), os.path.join(self.data_folder_in, original))
                moved += 1
            except OSError:
                continue
        return moved

    def _get(self, queue, timeout=None):
        wanted = f"{queue}.msg"
        for filename in sorted(os.listdir(self.data_folder_in)):
            if filename.partition(".")[2] != wanted:
                continue
            taken = os.path.join(self.unacked_folder, f"{os.getpid()}-{filename}")
            try:
                os.rename(os.path.join(self.data_folder_in, filename), taken)
            except OSError:
                continue  # another consumer took it first
            with open(taken, "rb") as f:
                payload = loads(bytes_to_str(f.read()))
            self._unacked_files[payload["properties"]["delivery_tag"]] = taken
            return payload
        raise Empty()

    def _forget(self, delivery_tag) -> None:
        path = self._unacked_files.pop(delivery_tag, None)
        if path:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass

    def _restore(self, message):
        super()._restore(message)
        self._forget(message.delivery_tag)


class Transport(filesystem.Transport):
    """One broker state per folder: kombu keeps one for the whole process, which would make a second
    broker folder in the same process (tests) believe the first one's exchanges already exist there."""

    Channel = Channel
    driver_name = "crm-filesystem"
    _states: dict[str, virtual.BrokerState] = {}

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        folder = str(client.transport_options.get("control_folder", "control"))
        self.state = self._states.setdefault(folder, virtual.BrokerState())


TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")
