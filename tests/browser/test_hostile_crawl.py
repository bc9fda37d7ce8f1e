"""Every admin and public page, crawled in headless Chromium over data whose every free-text field
carries script-injection payloads (see tests/browser/hostile.py).

On every page: no dialog opens, `window.__xss` stays undefined (a trap installed before any page
script reports the page that sets it, even late), the Content-Security-Policy never has to block an
inline script or handler coming from the payloads (nor does the console mention one),
no element carries an event handler or a `javascript:` URL from the data, and the HTML as served
holds the payloads escaped. Admin URLs are enumerated from `admin.site.get_urls()` and each
ModelAdmin's `get_urls()`, so a page added later is crawled too, or the crawl fails naming the URL
parameter it cannot fill.
"""

from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, reverse

from campaigns.admin.campaigns import VERBS
from contacts.admin.filters import TextInputFilter
from contacts.models import Contact
from segments.export import FORMATS
from segments.suggestions import KINDS as SUGGESTION_KINDS
from tests.browser import hostile

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Hostile-1"
SITE_PAGES_SKIPPED = {"logout", "view_on_site"}  # logging out ends the crawl; no model has a site URL
FILTER_LINKS_PER_LIST = 3
# Changelists whose filters list values from the data (tags, segments, stores, categories).
FILTERED_LISTS = (
    "/contacts/contact/",
    "/segments/segmentmembership/",
    "/contacts/purchase/",
    "/contacts/loyaltymember/",
    "/contacts/product/",
)
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "background", "poster"}
TRAP = """(() => {
  let value;
  Object.defineProperty(window, "__xss", {configurable: false, get() { return value; }, set(v) {
    value = v; if (window.reportXss) { window.reportXss(location.href); }
  }});
  // A payload the Content-Security-Policy stopped still got into the page as markup: report it too.
  // Violations of the page's own code (no payload in the blocked element) are not this crawl's finding.
  document.addEventListener("securitypolicyviolation", (event) => {
    const blocked = (event.target && event.target.outerHTML || "") + " " + (event.sample || "");
    if (blocked.includes("__xss") && window.reportBlocked) {
      window.reportBlocked(location.href + " " + event.violatedDirective + " " + blocked.slice(0, 120));
    }
  }, true);
})();"""
DOM_HOLES = """() => {
  const found = [];
  for (const node of document.querySelectorAll("*")) {
    // Through the prototype: a form's inputs named "attributes" would shadow the property.
    for (const name of Element.prototype.getAttributeNames.call(node)) {
      const value = Element.prototype.getAttribute.call(node, name);
      if ((name.startsWith("on") && value.includes("__xss")) ||
          (["href", "src", "action", "formaction", "xlink:href"].includes(name) && /^\\s*javascript:/i.test(value))) {
        found.push(node.localName + " " + name + "=" + value);
      }
    }
    if (node.tagName === "SCRIPT" && node.type !== "application/json" && node.textContent.includes("__xss")) {
      found.push("SCRIPT " + node.textContent.slice(0, 80));
    }
  }
  return found;
}"""


class MarkupFinder(HTMLParser):
    """Live markup in the HTML as served: an event handler or a script carrying the payload, or a
    `javascript:` URL. Text and attribute values that merely contain the payload's characters, as
    escaped data does, are not markup."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            value = value or ""
            if (name.startswith("on") and "__xss" in value) or (
                name in URL_ATTRIBUTES and value.strip().lower().startswith("javascript:")
            ):
                self.found.append(f"<{tag} {name}={value!r}>")
        self.in_script = tag == "script" and dict(attrs).get("type") != "application/json"

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script and "__xss" in data:
            self.found.append(f"<script>{data[:80]}")


def live_markup(body: str) -> list[str]:
    finder = MarkupFinder()
    finder.feed(body)
    finder.close()
    return finder.found


class Crawler:
    """One browser context for the whole crawl, with the trap and the listeners installed once."""

    def __init__(self, browser, base_url: str):
        self.base = base_url
        self.hits: list[str] = []
        self.dialogs: list[str] = []
        self.csp: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(locale="en-US")
        self.context.expose_binding("reportXss", lambda source, href: self.hits.append(href))
        self.context.expose_binding("reportBlocked", lambda source, what: self.csp.append(what))
        self.context.add_init_script(TRAP)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15000)
        self.page.on("dialog", self._dialog)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"{self.page.url}: {exc}"))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{self.page.url}: {dialog.message}")
        dialog.dismiss()

    def _console(self, message) -> None:
        if message.type == "error" and "__xss" in message.text:
            self.csp.append(f"{self.page.url}: {message.text}")

    def login(self, username: str) -> None:
        self.page.goto(f"{self.base}/admin/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", PASSWORD)
        self.page.click("input[type=submit]")
        self.page.wait_for_selector("#content-main")

    def visit(self, path: str) -> str:
        """Open a page; return its HTML as served ("" for downloads and non-HTML answers)."""
        from playwright.sync_api import Error as PlaywrightError

        url = path if path.startswith("http") else self.base + path
        try:
            response = self._goto(url)
        except PlaywrightError as exc:
            if "Download is starting" in str(exc):
                return ""
            if "ERR_HTTP_RESPONSE_CODE_FAILURE" not in str(exc):
                raise
            # An error answer with an empty body (405 to a GET of a POST-only view): no page to check.
            status = self.context.request.get(url, max_redirects=0).status
            assert 400 <= status < 500, f"{path} answered {status}"
            return ""
        assert response is not None, url
        assert response.status < 500, f"{path} answered {response.status}"
        body = response.text() if "text/html" in response.headers.get("content-type", "") else ""
        self.check(path, body)
        return body

    def _goto(self, url: str, attempts: int = 3):
        from playwright.sync_api import Error as PlaywrightError

        for attempt in range(attempts):
            try:
                return self.page.goto(url, wait_until="load")
            except PlaywrightError as exc:
                # The browser's own error page for an earlier empty-bodied answer may come in late, and leaving
                # it Chromium starts the navigation again in another process: the first attempt is then
                # "interrupted by another navigation" to the same address. Let the page get off the error page
                # and load before asking again (waiting for "load" alone can return while the page is still
                # the error page, and the next attempt is then interrupted the same way: seen once in CI).
                if "interrupted by another navigation" not in str(exc) or attempt == attempts - 1:
                    raise
                self.page.wait_for_url(lambda address: address.startswith("http"), wait_until="load")
        return None

    def check(self, label: str, body: str = "") -> None:
        if body:
            found = live_markup(body)
            assert not found, f"{label} serves a payload as markup: {found[:3]}"
        assert self.page.evaluate("() => typeof window.__xss") == "undefined", label
        holes = self.page.evaluate(DOM_HOLES)
        assert not holes, f"{label} has live markup from the data: {holes[:3]}"
        self.assert_quiet()

    def assert_quiet(self) -> None:
        assert not self.hits, f"a payload ran on {self.hits}"
        assert not self.dialogs, f"a dialog opened: {self.dialogs}"
        assert not self.csp, f"the browser blocked a payload's inline script: {self.csp}"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def world(django_user_model):
    user = django_user_model.objects.create_superuser("marketer", "m@example.com", PASSWORD)
    return hostile.build(user)


@pytest.fixture
def crawler(browser, live_server, world):
    crawler = Crawler(browser, live_server.url)
    crawler.login("marketer")
    yield crawler
    crawler.close()


# ------------------------------------------------------------------ enumerating the admin


def _samples(model) -> list:
    """Rows from both ends of the table (English payloads first, Hebrew last); contacts also from the
    middle, where the Hebrew names start before the hostile email addresses."""
    rows = list(model._default_manager.order_by("pk"))
    if len(rows) <= 2:
        return rows
    return [rows[0], rows[len(rows) // 2], rows[-1]] if model is Contact else [rows[0], rows[-1]]


def _parameter_values(model, name: str, world) -> list:
    values = {
        "object_id": lambda: [obj.pk for obj in _samples(model)],
        "pk": lambda: [obj.pk for obj in _samples(model)][:1],
        "id": lambda: [obj.pk for obj in _samples(model)][:1],
        "contact_id": lambda: [
            c.pk for c in (world.contacts[0], world.contacts[len(hostile.PAYLOADS)], world.contacts[-1])
        ],
        "verb": lambda: list(VERBS),
        "fmt": lambda: list(FORMATS),
        "language": lambda: ["he", "en"],
        "kind": lambda: list(SUGGESTION_KINDS),
    }
    assert name in values, f"the crawl has no sample value for URL parameter “{name}” of {model.__name__}"
    return values[name]()


def _fill(pattern: URLPattern, model, world) -> list[dict]:
    kwargs = [{}]
    for name in pattern.pattern.converters:
        kwargs = [{**k, name: v} for k in kwargs for v in _parameter_values(model, name, world)]
    if "object_id" in pattern.pattern.converters and not pattern.name.endswith("_change"):
        kwargs = kwargs[:1]  # history and delete pages: one object each is enough
    return kwargs


def _model_admin_pages(model, model_admin, world) -> list[str]:
    pages = []
    for pattern in model_admin.get_urls():
        if pattern.name is None:  # the bare "<object_id>/" redirect to the change page
            continue
        for kwargs in _fill(pattern, model, world):
            pages.append(reverse(f"admin:{pattern.name}", kwargs=kwargs))
        if pattern.name.endswith("_changelist"):
            pages.extend(_changelist_variants(reverse(f"admin:{pattern.name}"), model_admin))
    return pages


def _changelist_variants(url: str, model_admin) -> list[str]:
    """Search and the text-box filters fed a payload; the clickable filters are followed from the page."""
    variants = []
    if model_admin.search_fields:
        variants.append(f"{url}?{urlencode({'q': hostile.HEBREW[0]})}")
    for spec in model_admin.list_filter:
        if isinstance(spec, type) and issubclass(spec, TextInputFilter):
            variants.append(f"{url}?{urlencode({spec.parameter_name: hostile.ATTRIBUTE})}")
    return variants


def _site_pages() -> list[str]:
    pages = []
    for pattern in admin.site.get_urls():
        if isinstance(pattern, URLResolver) or pattern.name in SITE_PAGES_SKIPPED or pattern.name is None:
            continue
        if pattern.name == "app_list":
            pages.extend(
                reverse("admin:app_list", kwargs={"app_label": label})
                for label in {m._meta.app_label for m in admin.site._registry}
            )
        elif pattern.name == "autocomplete":
            for text in (hostile.SCRIPT, hostile.HEBREW[0]):
                pages.append(
                    reverse("admin:autocomplete")
                    + "?"
                    + urlencode({"term": text, "app_label": "contacts", "model_name": "contact", "field_name": "tags"})
                )
        else:
            assert not pattern.pattern.converters, f"the crawl cannot fill admin page {pattern.pattern}"
            pages.append(reverse(f"admin:{pattern.name}"))
    return pages


def admin_pages(world) -> list[str]:
    pages = _site_pages()
    for model, model_admin in admin.site._registry.items():
        pages.extend(_model_admin_pages(model, model_admin, world))
    return pages


def filter_links(crawler) -> list[str]:
    """The changelist's own filter links: hostile tag names, segments, stores become query strings."""
    hrefs = crawler.page.eval_on_selector_all(
        "#changelist-filter a[href^='?']", "links => links.map(link => link.getAttribute('href'))"
    )
    hostile_first = sorted(set(hrefs), key=lambda h: ("__xss" not in h and "%3C" not in h, h))
    return hostile_first[:FILTER_LINKS_PER_LIST]


# ------------------------------------------------------------------ the crawl


def test_no_admin_page_runs_or_serves_unescaped_markup_from_hostile_data(crawler, world):
    pages = admin_pages(world)
    assert any("/report/" in p for p in pages) and any("/why/" in p for p in pages)
    for path in pages:
        body = crawler.visit(path)
        if path.endswith(FILTERED_LISTS) and body:
            base = path.split("?")[0]
            for query in filter_links(crawler):
                crawler.visit(base + query)
    crawler.page.wait_for_timeout(200)  # anything the last page would run late still reports
    crawler.assert_quiet()


def test_the_contact_page_shows_hostile_values_as_plain_text(crawler, world):
    contact = world.contacts[0]
    crawler.visit(reverse("admin:contacts_contact_change", args=[contact.pk]))
    page = crawler.page
    assert page.input_value("#id_first_name") == hostile.SCRIPT
    assert page.input_value("#id_attributes__note") == hostile.SCRIPT  # custom fields: one typed input each
    assert page.input_value("#id_attributes__colour") == hostile.SCRIPT
    assert hostile.ATTRIBUTE[:60] in page.text_content(".custom-fields-other")  # a key without a definition
    assert hostile.HOSTILE_URL in page.inner_text("#timeline")
    crawler.visit(reverse("admin:contacts_contact_changelist") + "?" + urlencode({"q": "{{7*7}}"}))
    assert "{{7*7}}" in page.inner_text("#result_list")


def test_the_segment_builder_and_its_live_preview_keep_hostile_names_as_text(crawler, world):
    segment = world.segments[0]
    crawler.visit(reverse("admin:segments_segment_change", args=[segment.pk]))
    page = crawler.page
    assert page.locator("#segment-builder .sb-condition").count() == 5
    page.wait_for_selector(".sb-preview-table")  # counted on opening, without a button
    assert hostile.SCRIPT in page.inner_text(".sb-preview-table")
    # Every picker the builder fills from the data: tags, segments, products, custom fields.
    for field in ("tag", "in_segment", "purchased_product", "attribute"):
        page.click("#segment-builder > fieldset > .sb-buttons .sb-add-condition")
        page.locator("#segment-builder .sb-field").last.select_option(field)
    assert hostile.TEXTAREA in page.inner_text("#segment-builder")
    page.wait_for_selector("#segment-preview:not(.sb-counting) .errornote")
    page.wait_for_timeout(100)
    crawler.check("segment builder after editing", "")
    assert page.locator("svg.sb-chart circle").count() > 0


def test_import_dry_runs_of_hostile_csv_files_list_every_line_as_text(crawler, world, tmp_path):
    page = crawler.page
    for name, data in (("contact", hostile.hostile_csv()), ("purchase", hostile.hostile_purchases_csv())):
        upload = tmp_path / f"{name}s.csv"
        upload.write_bytes(data)
        crawler.visit(reverse(f"admin:contacts_{name}_import"))
        page.set_input_files("#id_import_file", str(upload))
        if page.locator("select#id_format").count():  # a single format (CSV) is a hidden field
            page.select_option("select#id_format", index=1)
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            submit(page, "form[enctype='multipart/form-data'] input[type=submit]")
        assert answer.value.status < 500
        crawler.check(f"{name} import dry run", answer.value.text())
        assert hostile.SCRIPT in page.inner_text("#content")


def submit(page, selector: str) -> None:
    with page.expect_navigation(wait_until="load"):
        page.click(selector)


def _run_action(crawler, changelist: str, action: str) -> None:
    """Select every row of the list and run the action: its page or its messages follow."""
    page = crawler.page
    crawler.visit(changelist)
    page.check("#action-toggle")
    page.select_option("select[name=action]", action)
    submit(page, "button[name=index]")


def test_bulk_actions_and_their_messages_keep_hostile_names_as_text(crawler, world, tmp_path):
    page = crawler.page
    contacts = reverse("admin:contacts_contact_changelist")
    for action in ("add_tag", "erase_contacts", "add_to_static_list"):
        _run_action(crawler, contacts, action)
        crawler.check(f"{action} confirmation", page.content())
        assert hostile.SCRIPT in page.inner_text("#content")
    _run_action(crawler, contacts, "add_tag")
    page.fill("#id_name", hostile.TEXTAREA + "x")
    submit(page, "input[name=apply]")
    crawler.check("add tag message", page.content())
    assert hostile.TEXTAREA in page.inner_text(".messagelist")

    static = world.segments[2]
    upload = tmp_path / "list.csv"
    upload.write_text("\n".join(hostile.ALL) + "\n", encoding="utf-8")
    crawler.visit(reverse("admin:segments_segment_change", args=[static.pk]))
    page.set_input_files("#segment-upload-file", str(upload))
    submit(page, "button[form=segment-upload-form]")
    crawler.check("static list upload messages", page.content())
    assert hostile.SCRIPT in page.inner_text(".messagelist")

    # Deleting a segment another one uses is refused with both names in the message.
    crawler.visit(reverse("admin:segments_segment_delete", args=[world.segments[0].pk]))
    submit(page, "#content input[type=submit]")
    assert page.locator(".messagelist .error").count() == 1
    crawler.check("segment delete refusal", page.content())

    _run_action(crawler, reverse("admin:segments_segment_changelist"), "refresh_selected")
    crawler.check("segment refresh messages", page.content())


def test_previews_as_each_hostile_contact_keep_the_mail_out_of_the_admin_page(crawler, world):
    page = crawler.page
    for contact in (world.contacts[0], world.contacts[len(hostile.PAYLOADS)], world.contacts[-1]):
        for url in (
            reverse("admin:campaigns_emailtemplate_preview", args=[world.templates[0].pk]),
            reverse("admin:campaigns_campaign_preview", args=[world.campaigns[1].pk]),
        ):
            crawler.visit(f"{url}?{urlencode({'contact': contact.pk})}")
            sandbox = page.get_attribute("iframe.campaign-html", "sandbox")
            assert sandbox is not None and "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
            frame = page.frame_locator("iframe.campaign-html")
            assert frame.locator("body").count() == 1
    page.fill("#id_emails", hostile.EMAILS[0] + ", " + hostile.SCRIPT)
    submit(page, ".campaign-test-send input[type=submit]")
    crawler.check("test send answer", page.content())


def test_public_pages_never_run_hostile_data(crawler, world):
    for token in world.tokens:
        crawler.visit(reverse("campaigns:unsubscribe", args=[token]))
    for text in hostile.PAYLOADS + hostile.HEBREW[:1]:
        quoted = text.replace("/", "%2F").replace("?", "%3F").replace("#", "%23")
        for prefix in ("/u/", "/m/", "/t/c/x/", "/admin/", "/api/v1/", "/nowhere/"):
            crawler.visit(prefix + quoted + ("/1/" if prefix == "/t/c/x/" else "/"))
    crawler.visit("/api/docs/")
    crawler.page.wait_for_selector(".swagger-ui .info", timeout=15000)
    crawler.check("API docs after rendering")
    crawler.context.clear_cookies()
    for token in world.tokens[:1]:
        crawler.visit(reverse("campaigns:unsubscribe", args=[token]))
    crawler.visit("/admin/" + hostile.SCRIPT.replace("/", "%2F") + "/")


def test_the_view_in_browser_page_never_runs_hostile_data(crawler, world):
    for token in world.tokens:
        crawler.visit(reverse("campaigns:browser", args=[token]))
        assert "legacy-link" in crawler.page.inner_text("body")  # the stored markup was rendered, made inert
