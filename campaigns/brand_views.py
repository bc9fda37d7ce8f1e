"""The brand's logo, public: mail clients fetch it from every mail, with no login.

Only the current logo is served, looked up by the exact name stored with the brand, so no other
file of the storage can be reached through this URL."""

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponseBase, HttpResponseNotFound
from django.views.decorators.http import require_GET

from .brand import logo_format
from .branding import current_brand

# Each upload gets a new name, so a name's content never changes.
LOGO_MAX_AGE = 30 * 24 * 3600


@require_GET
def logo(request: HttpRequest, name: str) -> HttpResponseBase:
    stored = current_brand().logo.name or ""
    if not stored or stored.rpartition("/")[2] != name or not default_storage.exists(stored):
        return HttpResponseNotFound()
    file = default_storage.open(stored, "rb")
    found = logo_format(file.read(16))
    file.seek(0)
    if found is None:
        file.close()
        return HttpResponseNotFound()
    response = FileResponse(file, content_type=found[1])
    response["Cache-Control"] = f"public, max-age={LOGO_MAX_AGE}, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
