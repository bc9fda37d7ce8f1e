"""Anymail's webhook URLs, each behind `webhooks.refuse_unsecured`.

Included at /anymail/ instead of `anymail.urls`, with the same namespace and names, so that a
provider webhook without credentials is refused outside DEBUG instead of merely warned about.
"""

from anymail import urls as anymail_urls
from django.urls import URLPattern

from .webhooks import refuse_unsecured

app_name = anymail_urls.app_name
urlpatterns = [
    URLPattern(pattern.pattern, refuse_unsecured(pattern.callback), pattern.default_args, pattern.name)
    for pattern in anymail_urls.urlpatterns
]
