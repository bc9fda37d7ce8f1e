"""The KPI block on the admin's home page (templates/admin/index.html), for those who may see it."""

from django import template
from django.template.loader import get_template
from django.urls import reverse
from django.utils.safestring import SafeString

from ..dashboard import can_view, dashboard_context

register = template.Library()


@register.simple_tag(takes_context=True)
def may_see_kpis(context: template.Context) -> bool:
    return can_view(context["request"].user)


@register.simple_tag(takes_context=True)
def kpi_dashboard(context: template.Context) -> SafeString | str:
    """The block rendered for the request's period; nothing for a user who may not see it."""
    request = context["request"]
    if not can_view(request.user):
        return ""
    block = get_template("admin/reports/kpis.html")
    return block.render({**dashboard_context(request, page_url=reverse("admin:index")), "on_home": True}, request)
