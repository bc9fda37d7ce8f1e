"""Public, login-free endpoints of campaign mail. Thin: each view reads the request, calls one
service from `campaigns.tracking` and answers. A garbage or forged token is a 404 page (the pixel
still gets its GIF), never a server error."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from . import preferences, tracking
from .forms import PreferencesForm
from .sandbox import TemplateLimitError

# Marketer HTML is shown as a sandboxed document: no script runs even if one got through, no form
# posts, and it cannot reach this origin's cookies or storage. Links still open (new tabs too).
MAIL_PAGE_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; "
    "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"
)


def _private(response: HttpResponse) -> HttpResponse:
    """Tracking URLs carry a token: keep them out of caches, search engines and Referer headers."""
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, private, max-age=0"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def not_found(request: HttpRequest, language: str | None = None) -> HttpResponse:
    with translation.override(language or translation.get_language()):
        response = render(
            request,
            "campaigns/not_found.html",
            {"lang": translation.get_language(), "dir": "rtl" if translation.get_language_bidi() else "ltr"},
            status=404,
        )
    return _private(response)


@require_GET
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        tracking.record_open(token=token, visitor=tracking.Visitor.from_request(request))
    except Exception:  # noqa: BLE001 - the reader's mail client must get its image whatever happens here
        tracking.logger.exception("Could not record an open")
    response = HttpResponse(tracking.PIXEL_GIF, content_type="image/gif")
    response["Expires"] = "0"
    response["Pragma"] = "no-cache"
    return _private(response)


@require_GET
def click(request: HttpRequest, token: str, link_id: str) -> HttpResponse:
    if not (link_id.isascii() and link_id.isdigit()) or len(link_id) > 18:
        return not_found(request)
    found = tracking.record_click(token=token, link_id=int(link_id), visitor=tracking.Visitor.from_request(request))
    if found is None:
        return not_found(request)
    return _private(HttpResponseRedirect(found.url))


def _page(request: HttpRequest, template: str, message, status: int = 200, **context) -> HttpResponse:
    with translation.override(tracking.page_language(message)):
        context.update(
            lang=translation.get_language(),
            dir="rtl" if translation.get_language_bidi() else "ltr",
            message=message,
            contact=message.contact,
        )
        return _private(render(request, template, context, status=status))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation and changes nothing (link scanners fetch every URL); POST opts out,
    from the page's button or from a mail client's RFC 8058 one-click request alike."""
    message = tracking.message_for_token(token)
    if message is None:
        return not_found(request)
    if request.method == "GET":
        return _page(request, "campaigns/unsubscribe_confirm.html", message, preferences_url=_preferences_url(token))
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    with translation.override(tracking.page_language(message)):
        shown = "" if one_click else preferences.unsubscribe_text(request.POST.get("page", ""), message.contact)
    tracking.unsubscribe(message=message, one_click=one_click, text_shown=shown)
    return _page(request, "campaigns/unsubscribe_done.html", message, preferences_url=_preferences_url(token))


def _preferences_url(token: str) -> str:
    return reverse("campaigns:preferences", args=[token])


@require_http_methods(["GET", "POST"])
def preference_centre(request: HttpRequest, token: str) -> HttpResponse:
    """How often the contact wants our mail, or none: reached from the unsubscribe page with the same
    signed token. Unlike the unsubscribe URL, the form is CSRF-protected: it can also grant consent."""
    message = tracking.message_for_token(token)
    if message is None:
        return not_found(request)
    with translation.override(tracking.page_language(message)):
        form = PreferencesForm(request.POST or None, contact=message.contact)
        if request.method == "POST" and form.is_valid():
            preferences.preferences_save(message=message, mail_frequency=form.chosen_frequency())
            return _private(HttpResponseRedirect(f"{_preferences_url(token)}?saved=1"))
        context = {
            "form": form,
            "saved": request.method == "GET" and request.GET.get("saved") == "1",
            "subscribed": preferences.is_subscribed(message.contact),
            "question": preferences.frequency_question(),
            "consent": preferences.frequency_consent(message.contact).html,
            "unsubscribe_url": reverse("campaigns:unsubscribe", args=[token]),
        }
    status = 400 if request.method == "POST" else 200
    response = _page(request, "campaigns/preferences.html", message, status=status, **context)
    # A browser sends "Origin: null" with a form posted from a no-referrer page, which the CSRF check
    # refuses; same-origin still keeps the token out of every other site's Referer.
    response["Referrer-Policy"] = "same-origin"
    return response


@require_GET
def view_in_browser(request: HttpRequest, token: str) -> HttpResponse:
    message = tracking.message_for_token(token)
    if message is None:
        return not_found(request)
    try:
        page = tracking.browser_view(message=message)
    except TemplateLimitError:
        tracking.logger.warning("The browser view of message %s is past a template limit", message.pk)
        return not_found(request)
    response = HttpResponse(page, content_type="text/html; charset=utf-8")
    response["X-Frame-Options"] = "DENY"
    response["Content-Security-Policy"] = MAIL_PAGE_CSP
    return _private(response)
