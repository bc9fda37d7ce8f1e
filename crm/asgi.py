import os

from django.core.asgi import get_asgi_application

from crm.security import refuse_unsafe_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
application = get_asgi_application()
refuse_unsafe_start()  # with DEBUG off, no serving without a real SECRET_KEY
