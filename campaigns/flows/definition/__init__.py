"""A flow's definition — trigger, steps, re-entry, exit rules and options (CONTRACT §6) — and its one
validator: the serializer that the API, the admin and the presets all apply, and that the OpenAPI
schema publishes.

`fields` holds the values (each taking only the JSON type its schema states), `objects` what triggers
and steps share (one serializer per `type`, no unknown keys), `triggers` and `steps` the kinds, `flow`
the whole definition. The engine addresses steps by path (`campaigns.flows.paths`).
"""

from .flow import FlowDefinitionSerializer, flow_definition_validate
from .steps import MAX_BRANCH_DEPTH, MAX_STEPS, STEPS
from .triggers import DEFAULT_TIME, TRIGGERS

__all__ = [
    "DEFAULT_TIME",
    "MAX_BRANCH_DEPTH",
    "MAX_STEPS",
    "STEPS",
    "TRIGGERS",
    "FlowDefinitionSerializer",
    "flow_definition_validate",
]
