# The one image behind web, worker, beat and migrate in docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRIDCMD_VAR_DIR=/app/var \
    STATIC_ROOT=/app/var/staticfiles \
    MEDIA_ROOT=/app/var/media

# gettext: compilemessages turns locale/*.po into the .mo files Django reads.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .
# The project itself. PYTHONPATH=/app above makes the source tree, with its templates and
# static files beside the packages, the copy that is imported.
RUN pip install --no-deps .

# Translations compiled and static files collected at build, so the image serves its own
# static files through WhiteNoise; the compose `migrate` service collects again into the
# shared volume. The key only lets the settings load for these two commands: it signs
# nothing and is not kept in the image's environment.
RUN export SECRET_KEY=build-time-only-not-a-secret \
    && if [ -d locale ]; then python manage.py compilemessages; fi \
    && python manage.py collectstatic --noinput

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin gridcmd \
    && mkdir -p /app/var/media /app/var/staticfiles \
    && chown -R gridcmd:gridcmd /app/var
USER gridcmd

EXPOSE 8000
CMD ["gunicorn", "gridcmd.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
