"""The back office for staff. Importing the modules registers their admins."""

from . import activity, catalog, club, contact  # noqa: F401
