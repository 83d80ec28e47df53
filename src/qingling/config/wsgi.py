import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qingling.config.settings")
os.umask(0o077)  # files the service writes are for the service account only
application = get_wsgi_application()
