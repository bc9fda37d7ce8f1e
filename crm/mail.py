"""Mail written to files for `make run`: one .eml file per message, ready to open in a mail program.

A file's name carries a keyed hash of its recipient (`<time>-<recipient key>-<random>.eml`), so the
copies sent to a person can be found and deleted when they ask to be erased, without reading every
file and without the address itself showing in a directory listing.
"""

import re
from collections.abc import Iterable
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path
from uuid import uuid4

from django.conf import settings
from django.core.mail.backends import filebased
from django.utils import timezone
from django.utils.crypto import salted_hmac

KEYED_NAME = re.compile(r"^\d{8}-\d{6}-(?P<key>[0-9a-f]{16})-[0-9a-f]{12}\.eml$")
HEADER_BYTES = 64 * 1024


def recipient_key(address: str) -> str:
    return salted_hmac("crm.mail.outbox", address.strip().lower()).hexdigest()[:16]


class EmlFileBackend(filebased.EmailBackend):
    def send_messages(self, email_messages) -> int:
        sent = 0
        with self._lock:
            for message in email_messages:
                recipients = message.recipients()
                key = recipient_key(recipients[0] if recipients else "")
                name = f"{timezone.now():%Y%m%d-%H%M%S}-{key}-{uuid4().hex[:12]}.eml"
                (Path(self.file_path) / name).write_bytes(message.message().as_bytes(linesep="\r\n"))
                sent += 1
        return sent


def outbox_forget(addresses: Iterable[str]) -> int:
    """Delete the local copies of mail sent to these addresses; returns how many files went.

    Files named before recipient keys existed are matched by their To/Cc headers."""
    wanted = {a.strip().lower() for a in addresses if a}
    folder = getattr(settings, "EMAIL_FILE_PATH", None)
    if not wanted or not folder or not Path(folder).is_dir():
        return 0
    keys = {recipient_key(a) for a in wanted}
    removed = 0
    for path in Path(folder).glob("*.eml"):
        keyed = KEYED_NAME.match(path.name)
        if (keyed.group("key") in keys) if keyed else _addressed_to(path, wanted):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _addressed_to(path: Path, wanted: set[str]) -> bool:
    with path.open("rb") as handle:
        head = handle.read(HEADER_BYTES)
    headers = BytesHeaderParser().parsebytes(head)
    found = getaddresses(headers.get_all("To", []) + headers.get_all("Cc", []))
    return any(address.lower() in wanted for _, address in found)
