"""Hooks other apps subscribe to, so `contacts` never imports them.

`contacts_changed` is sent after commit with the ids whose data changed (segments re-evaluate
those contacts). Erase and merge have their own registry in `contacts.hooks`.
"""

from django.dispatch import Signal

contacts_changed = Signal()  # kwargs: contact_ids
