"""Settings come from the environment, in gridcmd/settings.py only.

Each case imports the settings in a fresh subprocess with an environment built from scratch,
because settings are read once per process and the test run's own environment (DEBUG=1,
maybe DATABASE_URL and REDIS_URL) must not leak into what is being checked.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SETTINGS_FILE = BASE_DIR / "gridcmd" / "settings.py"

# Finds os.environ.get("X"), os.environ["X"], os.getenv("X"), env_bool("X"), env_list("X") ...
_ENV_CALL = re.compile(
    r"""(?:environ\.get|environ\[|getenv|env_[a-z]+)\(?\s*["']([A-Z][A-Z0-9_]*)["']"""
)

# Runs in the subprocess: swaps os.environ for a mapping that records every name looked up,
# imports the settings module, and prints the names read plus the requested values as JSON.
_PROBE = r"""
import json, os, sys
from collections.abc import MutableMapping

# Import what settings imports first, so only the settings module's own reads are recorded.
import dj_database_url, django.core.exceptions, django.utils.translation  # noqa

names = json.loads(sys.argv[1])
reads = set()
SETTINGS_FILE = os.path.abspath(os.path.join("gridcmd", "settings.py"))
# Mapping.get and os.getenv stand between a lookup and its caller (frozen or not).
PASS_THROUGH = ("_collections_abc.py", "_collections_abc>", os.sep + "os.py", "<frozen os>")

def record(key):
    # Only lookups made by the settings module itself count (through os.getenv or
    # Mapping.get at most), not those of libraries it happens to import (celery, kombu).
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.endswith(PASS_THROUGH):
        frame = frame.f_back
    if frame is not None and os.path.abspath(frame.f_code.co_filename) == SETTINGS_FILE:
        reads.add(key)

class RecordingEnviron(MutableMapping):
    def __init__(self, real):
        self._real = real
    def __getitem__(self, key):
        record(key)
        return self._real[key]
    def __contains__(self, key):
        record(key)
        return key in self._real
    def __setitem__(self, key, value):
        self._real[key] = value
    def __delitem__(self, key):
        del self._real[key]
    def __iter__(self):
        return iter(self._real)
    def __len__(self):
        return len(self._real)
    def copy(self):
        return dict(self._real)

os.environ = RecordingEnviron(os.environ)
try:
    import gridcmd.settings as s
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}", "reads": sorted(reads)}))
    sys.exit(3)
# Lazy translated labels (LANGUAGES, tile names) need the app registry to print.
os.environ = os.environ._real
os.environ["DJANGO_SETTINGS_MODULE"] = "gridcmd.settings"
import django
django.setup()
values = {name: getattr(s, name) for name in names}
print(json.dumps({"reads": sorted(reads), "values": values}, default=str))
"""


def settings_file_names() -> set[str]:
    """Variable names that appear in an environment lookup in gridcmd/settings.py."""
    return set(_ENV_CALL.findall(SETTINGS_FILE.read_text(encoding="utf-8")))


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any variable the settings read, plus overrides."""
    # DJANGO_ALLOW_ASYNC_UNSAFE is set by conftest for Playwright; production never has it.
    drop = settings_file_names() | {
        "DJANGO_SETTINGS_MODULE",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
        "DEBUG",
        "SECRET_KEY",
    }
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(overrides)
    return env


def production_env(tmp_path: Path | None = None, **overrides: str) -> dict[str, str]:
    env = clean_env(SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="example.org")
    if tmp_path is not None:
        env["GRIDCMD_VAR_DIR"] = str(tmp_path / "var")
    env.update(overrides)
    return env


def probe_settings(env: dict[str, str], names=()) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(names))],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


def settings_values(env: dict[str, str], *names: str) -> dict:
    code, out = probe_settings(env, names)
    assert code == 0, out
    return out["values"]


def recorded_env_reads() -> set[str]:
    """Every environment variable the settings module looks up, recorded while it is imported
    under the configurations that matter: development, production embedded, and production
    with PostgreSQL and Redis."""
    configs = [
        clean_env(DEBUG="1"),
        production_env(),
        production_env(
            DATABASE_URL="postgres://u:p@db.invalid:5432/gridcmd",
            REDIS_URL="redis://cache.invalid:6379/0",
        ),
    ]
    names = set()
    for env in configs:
        code, out = probe_settings(env)
        assert code == 0, out
        names |= set(out["reads"])
    return names


def settings_env_reads() -> set[str]:
    """The recorded names plus the scanned ones, so a name read only on some other branch
    still counts."""
    return recorded_env_reads() | settings_file_names()


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = production_env(tmp_path)
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNINGS" not in output, output


def test_check_deploy_fails_when_debug_is_on(tmp_path):
    # Proves the check above can fail: DEBUG=1 in production is security.W018.
    env = production_env(tmp_path, DEBUG="1")
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "security.W018" in proc.stdout + proc.stderr


def test_secret_key_is_required_without_debug(tmp_path):
    env = clean_env(GRIDCMD_VAR_DIR=str(tmp_path))
    code, out = probe_settings(env)
    assert code == 3
    assert out["error"].startswith("ImproperlyConfigured")
    assert "SECRET_KEY" in out["error"]


def test_manage_py_without_any_configuration_runs_as_a_developer_checkout(tmp_path):
    # No DEBUG and no SECRET_KEY: manage.py runs as `make` does (DEBUG on) ...
    env = clean_env(GRIDCMD_VAR_DIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # ... while a SECRET_KEY alone (a deployment) keeps DEBUG off: see the --deploy check
    # above, which fails with DEBUG on.


def test_debug_runs_without_secret_key(tmp_path):
    values = settings_values(
        clean_env(DEBUG="1", GRIDCMD_VAR_DIR=str(tmp_path)), "DEBUG", "SECRET_KEY"
    )
    assert values["DEBUG"] is True
    assert values["SECRET_KEY"]


def test_production_defaults_are_secure(tmp_path):
    values = settings_values(
        production_env(tmp_path),
        "DEBUG",
        "ALLOWED_HOSTS",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
    )
    assert values["DEBUG"] is False
    assert values["ALLOWED_HOSTS"] == ["example.org"]
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000


def test_without_database_url_sqlite_lives_under_var():
    values = settings_values(production_env(), "DATABASES")
    default = values["DATABASES"]["default"]
    assert default["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(default["NAME"]) == BASE_DIR / "var" / "gridcmd.sqlite3"


def test_database_url_selects_postgresql(tmp_path):
    values = settings_values(
        production_env(tmp_path, DATABASE_URL="postgres://alice:pw@db.example:5433/gridcmd_x"),
        "DATABASES",
    )
    default = values["DATABASES"]["default"]
    assert default["ENGINE"] == "django.db.backends.postgresql"
    assert (default["NAME"], default["USER"], default["HOST"], default["PORT"]) == (
        "gridcmd_x",
        "alice",
        "db.example",
        5433,
    )


def test_without_redis_url_tasks_run_eagerly_and_cache_is_local(tmp_path):
    values = settings_values(
        production_env(tmp_path), "CELERY_TASK_ALWAYS_EAGER", "CELERY_BROKER_URL", "CACHES"
    )
    assert values["CELERY_TASK_ALWAYS_EAGER"] is True
    assert not values["CELERY_BROKER_URL"].startswith("redis")
    assert values["CACHES"]["default"]["BACKEND"].endswith("locmem.LocMemCache")


def test_redis_url_is_broker_and_cache(tmp_path):
    url = "redis://cache.example:6379/3"
    values = settings_values(
        production_env(tmp_path, REDIS_URL=url),
        "CELERY_TASK_ALWAYS_EAGER",
        "CELERY_BROKER_URL",
        "CACHES",
    )
    assert values["CELERY_TASK_ALWAYS_EAGER"] is False
    assert values["CELERY_BROKER_URL"] == url
    assert values["CACHES"]["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
    }


def test_time_zone_and_languages(tmp_path):
    values = settings_values(
        production_env(tmp_path), "TIME_ZONE", "LANGUAGE_CODE", "LANGUAGES", "USE_I18N", "USE_TZ"
    )
    assert values["TIME_ZONE"] == "Asia/Shanghai"
    assert values["LANGUAGE_CODE"] == "zh-hans"
    assert [code for code, _ in values["LANGUAGES"]] == ["zh-hans", "en"]
    assert values["USE_I18N"] is True
    assert values["USE_TZ"] is True


def test_map_tiles_come_from_the_environment(tmp_path):
    values = settings_values(
        production_env(
            tmp_path,
            MAP_TILE_URL="https://tiles.example/{z}/{x}/{y}.png",
            MAP_TILE_ATTRIBUTION="© Example",
        ),
        "LEAFLET_CONFIG",
    )
    (tile,) = values["LEAFLET_CONFIG"]["TILES"]
    assert tile[1] == "https://tiles.example/{z}/{x}/{y}.png"
    assert tile[2] == {"attribution": "© Example"}


def test_recorder_sees_the_variables_settings_read():
    # test_compose.py relies on this list; a recorder that saw nothing would pass vacuously.
    names = recorded_env_reads()
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"} <= names
    assert {"MAP_TILE_URL", "MAP_TILE_ATTRIBUTION", "CSRF_TRUSTED_ORIGINS"} <= names
    # Libraries imported on the way (celery, kombu) read variables too; they are not ours.
    assert not any(name.startswith(("CELERY_", "KOMBU_", "C_")) for name in names)
    assert names <= settings_env_reads()
