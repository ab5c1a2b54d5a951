import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcmd.settings")
application = get_wsgi_application()

from gridcmd.process import settle  # noqa: E402 - needs the settings loaded above

settle()
