"""Marketer HTML made inert: no script, no event handler, no javascript: URL, whatever the template
or the contact data put in it.

Every mail's HTML is parsed and written out again: tags and attributes from the parse (values
quoted and escaped by us), text escaped, style sheets with every "<" escaped as CSS. So nothing the
input smuggles in can open a tag, whatever a browser's parser would have made of the original.
On the way out go <script> (with its content), frames, plugins and <base>, <svg> and <math>
(their animations can set a link to a script URL), comments, `on*` attributes, a
`<meta http-equiv="refresh">`, and URLs whose scheme is not http(s), mailto, tel, sms, cid or an
image `data:`. Template validation reports the same findings with their line (`problems`).
"""

import html
import re
from html.parser import HTMLParser

from django.utils.translation import gettext as _

DROP_WITH_CONTENT = {"script"}
DROP_TAGS = {
    "script",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "base",
    "svg",
    "math",
    "portal",
    "noscript",
    "template",
}
URL_ATTRIBUTES = {
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "background",
    "poster",
    "cite",
    "longdesc",
    "lowsrc",
    "dynsrc",
    "data",
    "codebase",
    "ping",
    "manifest",
    "icon",
}
SAFE_SCHEMES = {"http", "https", "mailto", "tel", "sms", "cid"}
SAFE_DATA = re.compile(r"^data:image/(png|gif|jpe?g|webp);", re.I)
NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
ATTRIBUTE_NAME = re.compile(r"^[a-zA-Z_:][-a-zA-Z0-9_:.]*$")
SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
INVISIBLE = re.compile(r"[\x00-\x20\x7f-\xa0\u1680\u180e\u2000-\u200f\u2028\u2029\u205f\u3000\ufeff]+")
DOCTYPE = re.compile(r"^doctype html\b[^<>]*$", re.I)


def url_is_safe(value: str) -> bool:
    """A relative URL or one of the allowed schemes; browsers ignore blanks and controls in a scheme."""
    compact = INVISIBLE.sub("", html.unescape(value or "")).lower()
    match = SCHEME.match(compact)
    if match is None:
        return ":" not in compact.split("/", 1)[0] or compact.startswith(("#", "?"))
    return match.group(1) in SAFE_SCHEMES or bool(SAFE_DATA.match(compact))


def _srcset_is_safe(value: str) -> bool:
    return all(url_is_safe(part.strip().split(" ")[0]) for part in (value or "").split(",") if part.strip())


class _Cleaner(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.found: list[tuple[int, str]] = []
        self.skipping: str | None = None

    def note(self, message: str) -> None:
        self.found.append((self.getpos()[0], message))

    def handle_starttag(self, tag, attrs):
        self._tag(tag, attrs, closing="")

    def handle_startendtag(self, tag, attrs):
        self._tag(tag, attrs, closing=" /")

    def _tag(self, tag: str, attrs: list, closing: str) -> None:
        if self.skipping:
            return
        if tag in DROP_TAGS or not NAME.match(tag):
            if tag in DROP_TAGS:
                self.note(_("<%(tag)s> is not allowed in a mail.") % {"tag": tag})
            if tag in DROP_WITH_CONTENT and not closing:
                self.skipping = tag
            return
        if tag == "meta" and any(k == "http-equiv" and (v or "").strip().lower() == "refresh" for k, v in attrs):
            self.note(_('<meta http-equiv="refresh"> is not allowed in a mail.'))
            return
        kept = "".join(self._attribute(tag, name, value) for name, value in attrs)
        self.out.append(f"<{tag}{kept}{closing}>")

    def _attribute(self, tag: str, name: str, value: str | None) -> str:
        if name.startswith("on"):
            self.note(
                _("The attribute “%(name)s” of <%(tag)s> is not allowed in a mail.") % {"name": name[:30], "tag": tag}
            )
            return ""
        if not ATTRIBUTE_NAME.match(name):
            return ""
        safe = (
            _srcset_is_safe(value or "")
            if name in ("srcset", "imagesrcset")
            else url_is_safe(value or "")
            if name in URL_ATTRIBUTES
            else "expression(" not in (value or "").lower()
            and "javascript:" not in INVISIBLE.sub("", (value or "").lower())
            if name == "style"
            else True
        )
        if not safe:
            self.note(
                _("The link “%(value)s” in <%(tag)s %(name)s> is not allowed in a mail.")
                % {"value": (value or "")[:60], "tag": tag, "name": name}
            )
            return ""
        if value is None:
            return f" {name}"
        return f' {name}="{html.escape(value, quote=True)}"'

    def handle_endtag(self, tag):
        if self.skipping:
            if tag == self.skipping:
                self.skipping = None
            return
        if tag not in DROP_TAGS and NAME.match(tag):
            self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if self.skipping:
            return
        if self.cdata_elem == "style":
            self.out.append(data.replace("<", "\\3c "))
        else:
            self.out.append(html.escape(data, quote=False))

    def handle_comment(self, data):
        """Dropped: browsers and parsers disagree on where some comments end."""

    def handle_decl(self, decl):
        if DOCTYPE.match(decl.strip()):
            self.out.append(f"<!{decl.strip()}>")

    def unknown_decl(self, data):
        """<![CDATA[ … ]]> and the like: dropped."""

    def handle_pi(self, data):
        """<? … >: dropped."""


def _clean(page: str) -> _Cleaner:
    cleaner = _Cleaner()
    cleaner.feed(page or "")
    cleaner.close()
    return cleaner


def sanitize(page: str) -> str:
    """The page without anything that could run script (see the module docstring)."""
    return "".join(_clean(page).out)


def problems(source: str) -> list[str]:
    """What `sanitize` would remove from a template's HTML, each with its line."""
    return [
        _("line %(line)d: %(problem)s") % {"line": line, "problem": problem} for line, problem in _clean(source).found
    ]
