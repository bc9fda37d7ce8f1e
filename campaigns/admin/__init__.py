"""The campaigns back office. Importing the modules registers their admins."""

from . import campaigns, templates  # noqa: F401
