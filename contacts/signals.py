"""Hooks other apps subscribe to, so `contacts` never imports them.

`contacts_changed` is sent after commit with the ids whose data changed (segments re-evaluate
those contacts); `contact_merging` is sent before a merged contact is deleted (apps move the rows
they own to the surviving contact).
"""
from django.dispatch import Signal

contacts_changed = Signal()  # kwargs: contact_ids
contact_merging = Signal()  # kwargs: contact_id
