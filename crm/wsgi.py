import os

from django.core.wsgi import get_wsgi_application

from crm.security import refuse_unsafe_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
application = get_wsgi_application()
refuse_unsafe_start()  # with DEBUG off, no serving without a real SECRET_KEY
