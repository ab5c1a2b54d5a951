"""The service worker that reopens the grid worker's pages offline (docs/adr/0013): the
script at /work/sw.js, what it caches, how its cache version follows the files, how the
pages register it, and the login page that forgets what was kept."""

import json
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils.translation import override

from screening.worker_views import WORKER_STATIC_FILES
from tests.factories import make_household
from tests.test_checks_services import make_worker

URL = "/work/sw.js"


def config_of(response) -> dict:
    """The configuration the view puts in front of the script."""
    match = re.match(r'"use strict";\nvar CONFIG = (\{.*\});\n', response.content.decode())
    assert match, response.content[:200]
    return json.loads(match.group(1))


def test_script_is_javascript_for_anyone_without_a_query(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    body = response.content.decode()
    source = Path(finders.find("js/worker-sw.js")).read_text()
    assert body.startswith('"use strict";\nvar CONFIG = {') and body.endswith(source)
    assert Client().post(URL).status_code == 405


def test_script_lists_the_worker_pages_static_files_and_no_api(db):
    config = config_of(Client().get(URL))
    assert config["staticUrl"] == "/static/"
    assert config["assets"] == [
        "/static/css/app.css",
        "/static/css/worker.css",
        "/static/js/checkqueue.js",
    ]
    assert all(url.startswith(config["staticUrl"]) for url in config["assets"])
    assert not [url for url in config["assets"] if "/api/" in url]
    assert re.fullmatch(r"[0-9a-f]{12}", config["version"])


def test_the_cached_files_are_the_ones_the_worker_pages_load(tree):
    """WORKER_STATIC_FILES is kept by hand: every worker page must load nothing else."""
    make_household(tree.h11, code="HH-0")
    client = Client()
    client.force_login(make_worker(tree.h11, username="worker_h11"))
    loaded = set()
    for url in ("/work/", f"/work/grids/{tree.h11.code}/", "/work/households/HH-0/"):
        html = client.get(url).content.decode()
        loaded |= set(re.findall(r'(?:href|src)="/static/([^"]+)"', html))
    assert loaded == set(WORKER_STATIC_FILES)


def test_the_version_changes_with_any_cached_file(db, settings, tmp_path):
    before = config_of(Client().get(URL))["version"]
    assert config_of(Client().get(URL))["version"] == before  # stable while nothing changes
    # A changed worker.css found first (a new deployment): a new version, so a new cache.
    (tmp_path / "css").mkdir()
    changed = tmp_path / "css" / "worker.css"
    shutil.copy(finders.find("css/worker.css"), changed)
    changed.write_text(changed.read_text() + "\n.new { color: red; }\n")
    settings.STATICFILES_DIRS = [tmp_path, *settings.STATICFILES_DIRS]
    assert config_of(Client().get(URL))["version"] != before


def test_hashed_names_when_the_manifest_storage_is_on(db, settings, tmp_path):
    """With DEBUG off the static files have hashed names (ManifestStaticFilesStorage), and
    those are the names the pages ask for, so those are the names the worker caches."""
    hashed = {name: name.replace(".", ".0123456789ab.") for name in WORKER_STATIC_FILES}
    (tmp_path / "staticfiles.json").write_text(json.dumps({"paths": hashed, "version": "1.1"}))
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    config = config_of(Client().get(URL))
    assert config["assets"] == [f"/static/{hashed[name]}" for name in WORKER_STATIC_FILES]


def test_worker_pages_register_the_script_and_carry_the_offline_notice(tree):
    client = Client()
    client.force_login(make_worker(tree.h11, username="worker_h11"))
    response = client.get("/work/")
    assert response.context["queue_config"]["serviceWorker"] == URL
    assert response.context["queue_strings"]["offlineCopy"] == "离线：显示的是上次加载的页面。"
    with override("en"):
        response = client.get("/work/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["queue_strings"]["offlineCopy"] == (
        "Offline: showing the page as last loaded."
    )
    script = Path(finders.find("js/checkqueue.js")).read_text()
    assert "'serviceWorker' in navigator" in script.replace('"', "'")


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/login/?next=/work/"])
def test_login_page_forgets_the_kept_pages(db, path):
    """Logging out lands here, and so does a worker whose session has ended."""
    html = Client().get(path).content.decode()
    assert re.search(r"caches\.keys\(\).*caches\.delete\(name\)", html)
    assert settings.LOGOUT_REDIRECT_URL == "accounts:login"
