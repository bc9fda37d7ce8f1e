"""The campaigns back office. Importing the modules registers their admins."""

from . import brand, campaigns, templates  # noqa: F401
