"""The automations back office: the flow builder, its enrollments, and the ready-made flows."""

from . import enrollments, flows  # noqa: F401  (each module registers its admin)
