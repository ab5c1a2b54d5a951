#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridcmd.settings")
    if "DEBUG" not in os.environ and "SECRET_KEY" not in os.environ:
        # A checkout with no configuration at all is a developer's: run as `make` does. A
        # deployment always sets SECRET_KEY, so it keeps DEBUG off; the web server and the
        # Celery processes (wsgi.py, celery.py) still refuse to start without a secret.
        os.environ["DEBUG"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
