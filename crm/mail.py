"""Mail written to files for `make run`: one .eml file per message, ready to open in a mail program."""
from pathlib import Path
from uuid import uuid4

from django.core.mail.backends import filebased
from django.utils import timezone


class EmlFileBackend(filebased.EmailBackend):
    def send_messages(self, email_messages) -> int:
        sent = 0
        with self._lock:
            for message in email_messages:
                name = f"{timezone.now():%Y%m%d-%H%M%S}-{uuid4().hex[:12]}.eml"
                (Path(self.file_path) / name).write_bytes(message.message().as_bytes(linesep="\r\n"))
                sent += 1
        return sent
