"""The only tags and filters a campaign template may use.

Templates are written by marketers and rendered with contact data, so the engine that runs them
knows nothing else: no {% load %}, {% include %}, {% extends %}, {% url %}, {% debug %} or
{% autoescape off %}, no template loaders, and a context of plain dicts — no model instances,
so there is no method to call and no settings to reach.
"""
from django.template import Library, defaultfilters, defaulttags

register = Library()

SAFE_TAGS = ("if", "for", "with", "firstof", "comment", "now", "spaceless", "verbatim", "cycle", "ifchanged")
SAFE_FILTERS = (
    "default", "default_if_none", "upper", "lower", "title", "capfirst", "date", "time", "floatformat",
    "truncatewords", "truncatechars", "length", "first", "last", "join", "yesno", "pluralize", "linebreaksbr",
    "escape", "urlencode", "add", "slice", "cut", "divisibleby", "stringformat", "wordcount", "center", "ljust",
    "rjust", "length_is", "make_list", "striptags",
)

for _name in SAFE_TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
for _name in SAFE_FILTERS:
    if _name in defaultfilters.register.filters:
        register.filters[_name] = defaultfilters.register.filters[_name]
