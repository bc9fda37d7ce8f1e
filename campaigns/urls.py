"""Public, login-free endpoints of campaign mail: open pixel, click redirect, unsubscribe with its preference
centre, view in browser.

The URL shapes are fixed by `campaigns.links`, which writes them into every mail. Tokens match
anything up to the next slash so that a mangled token still reaches its view (and gets the
campaign 404 page, or the pixel's GIF) rather than the site's generic 404."""

from django.urls import re_path

from . import brand_views, views

app_name = "campaigns"
urlpatterns = [
    re_path(r"^t/o/(?P<token>.*?)(?:\.gif)?$", views.open_pixel, name="open"),
    re_path(r"^t/c/(?P<token>[^/]+)/(?P<link_id>[^/]+)/$", views.click, name="click"),
    re_path(r"^u/(?P<token>[^/]+)/$", views.unsubscribe, name="unsubscribe"),
    re_path(r"^u/(?P<token>[^/]+)/preferences/$", views.preference_centre, name="preferences"),
    re_path(r"^m/(?P<token>[^/]+)/$", views.view_in_browser, name="browser"),
    re_path(r"^brand/logo/(?P<name>[^/]+)$", brand_views.logo, name="brand-logo"),
]
