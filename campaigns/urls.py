"""Public, login-free endpoints of campaign mail: open pixel, click redirect, unsubscribe, view in browser."""
from django.urls import path  # noqa: F401

app_name = "campaigns"
urlpatterns: list = []
