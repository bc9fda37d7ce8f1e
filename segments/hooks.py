"""Where the apps above `segments` plug in, so `segments` never imports them.

A higher app registers from its `AppConfig.ready()` the picker options of a rule value type that
it owns (the condition registry already names the type, e.g. "campaign"):

    hooks.on_builder_options("campaign", campaign_options)   # fn() -> [{"value": …, "label": …}]

The segment builder offers those options in its pickers, next to segments' own.
"""

from collections.abc import Callable

OptionsProvider = Callable[[], list[dict]]

_builder_options: dict[str, OptionsProvider] = {}


def on_builder_options(value_type: str, fn: OptionsProvider) -> OptionsProvider:
    _builder_options[value_type] = fn
    return fn


def builder_options() -> dict[str, list[dict]]:
    """Every registered value type's options, read now."""
    return {value_type: fn() for value_type, fn in _builder_options.items()}
