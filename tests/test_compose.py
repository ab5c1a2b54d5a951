"""Production is `docker compose up`. No Docker engine runs where the tests run, so this file
checks the deployment files against the code instead: every command a service runs exists
and parses, every variable a service sets is one the settings read, the files the
Dockerfile copies exist, and web's own command really serves its healthcheck.
"""

import importlib
import re
import shlex
import socket
import subprocess
import sys
import time
import warnings
from importlib.metadata import entry_points
from pathlib import Path

import dj_database_url
import pytest
import yaml

from tests.test_settings import BASE_DIR, production_env, settings_env_reads

COMPOSE_FILE = BASE_DIR / "docker-compose.yml"
DOCKERFILE = BASE_DIR / "Dockerfile"
ENV_EXAMPLE = BASE_DIR / ".env.example"

SERVICES = {"postgres", "redis", "web", "worker", "beat"}
APP_SERVICES = ["migrate", "web", "worker", "beat"]
LONG_RUNNING_APP_SERVICES = ["web", "worker", "beat"]
# Without these the settings fall back to the embedded defaults, which is wrong in production.
REQUIRED_ENV = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"}
# .env.example's second section: read by docker-compose.yml, not by the settings.
COMPOSE_ONLY_ENV = {"POSTGRES_PASSWORD", "WEB_PORT"}
# Interpreter and installer variables a Dockerfile may set besides the settings' own.
RUNTIME_ENV_PREFIXES = ("PYTHON", "PIP_")

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


@pytest.fixture(scope="module")
def settings_reads():
    return settings_env_reads()


def interpolate(value: str, given: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, with `given` as the .env."""

    def one(match):
        name, op, arg = match.groups()
        if given.get(name):
            return given[name]
        if op in (":-", "-"):
            return arg
        raise AssertionError(f"${{{name}}} is required and was not given")

    return _INTERPOLATION.sub(one, str(value)).replace("$$", "$")


def command_lines(command) -> list[list[str]]:
    """A service's command as argv lists: `sh -c "a && b"` gives two."""
    if isinstance(command, str):
        command = shlex.split(command)
    if command[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in command[2].split("&&")]
    return [list(command)]


def healthcheck_argv(service) -> list[str]:
    test = service["healthcheck"]["test"]
    if test[0] == "CMD":
        return list(test[1:])
    assert test[0] == "CMD-SHELL", test
    return shlex.split(test[1].replace("$$", "$"))


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_env() -> dict[str, str]:
    env = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            env.update(dict(item.split("=", 1) for item in shlex.split(rest)))
    return env


def env_example_sections() -> tuple[set[str], set[str]]:
    """Names in .env.example, set or shown commented out, split at the compose-only header."""
    settings_part, _, compose_part = ENV_EXAMPLE.read_text(encoding="utf-8").partition(
        "Read by docker-compose.yml only"
    )
    pattern = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
    return set(pattern.findall(settings_part)), set(pattern.findall(compose_part))


def celery_context(argv: list[str]):
    """Parses `celery -A app SUB ...` the way the celery command does, without running it:
    an unknown subcommand or option, or a bad value, raises click.UsageError."""
    from celery.app.utils import find_app
    from celery.bin.base import CLIContext
    from celery.bin.celery import celery as cli

    assert argv[0] == "celery", argv
    root = cli.make_context("celery", argv[1:], resilient_parsing=True)
    app = find_app(root.params["app"])
    root.obj = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    with warnings.catch_warnings():
        # Click 8.2 keeps the subcommand in protected_args (deprecated); Click 9 in args.
        warnings.simplefilter("ignore", DeprecationWarning)
        sub, *rest = [*getattr(root, "protected_args", []), *root.args]
    assert sub in cli.commands, f"celery has no subcommand {sub!r}"
    return app, sub, cli.commands[sub].make_context(sub, rest, parent=root)


def test_the_five_services_run_the_right_images(services):
    assert SERVICES <= set(services)
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    for name in APP_SERVICES:
        assert services[name]["build"] == ".", name
        assert services[name]["image"] == services["web"]["image"], name


def test_every_long_running_service_has_a_healthcheck(services):
    for name in SERVICES:
        test = services[name]["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name


def test_app_services_wait_for_healthy_data_services_and_migrations(services):
    for name in LONG_RUNNING_APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name, service in services.items():
        assert set(service.get("depends_on", {})) <= set(services), name


def test_volumes_for_postgres_data_static_and_media(compose, services):
    declared = set(compose["volumes"])

    def mounts(name):
        return dict(volume.split(":", 1)[::-1] for volume in services[name].get("volumes", []))

    assert mounts("postgres")["/var/lib/postgresql/data"] in declared
    env = dockerfile_env()
    for name in ("migrate", "web"):
        assert mounts(name)[env["STATIC_ROOT"]] in declared, name
        assert mounts(name)[env["MEDIA_ROOT"]] in declared, name
    assert mounts("worker")[env["MEDIA_ROOT"]] in declared
    for name in services:
        for source in mounts(name).values():
            # Named volumes only: a bind mount would depend on the host's layout.
            assert source in declared, (name, source)


def test_console_scripts_the_services_run_are_installed():
    scripts = {ep.name for ep in entry_points(group="console_scripts")}
    assert {"gunicorn", "celery"} <= scripts


@pytest.mark.filterwarnings("ignore:No directory at")  # WhiteNoise: nothing collected here
def test_web_runs_gunicorn_on_the_wsgi_application(services):
    from gunicorn.config import Config

    (argv,) = command_lines(services["web"]["command"])
    assert argv[0] == "gunicorn"
    options = Config().parser().parse_args(argv[1:])
    (app_spec,) = options.args
    module_name, _, attribute = app_spec.partition(":")
    application = getattr(importlib.import_module(module_name), attribute)
    assert callable(application)
    assert options.bind == ["0.0.0.0:8000"]
    assert any(port.endswith(":8000") for port in services["web"]["ports"])


def test_worker_and_beat_run_the_celery_app(services):
    for name, sub in (("worker", "worker"), ("beat", "beat")):
        (argv,) = command_lines(services[name]["command"])
        app, parsed_sub, _ = celery_context(argv)
        assert parsed_sub == sub, name
        assert app.main == "gridcmd", name
        # The same app object the code enqueues tasks on.
        assert app is importlib.import_module("gridcmd").celery_app


def test_celery_command_check_rejects_a_misspelt_option():
    import click

    with pytest.raises(click.UsageError):
        celery_context(["celery", "-A", "gridcmd", "worker", "--concurency", "2"])
    with pytest.raises(AssertionError):
        celery_context(["celery", "-A", "gridcmd", "wroker"])


def test_manage_py_commands_exist(services):
    from django.core.management import get_commands

    seen = []
    for name in APP_SERVICES:
        for argv in command_lines(services[name]["command"]):
            if "manage.py" in argv:
                assert argv[:2] == ["python", "manage.py"], argv
                assert argv[2] in get_commands(), argv
                seen.append(argv[2])
    assert {"migrate", "collectstatic"} <= set(seen)
    assert (BASE_DIR / "manage.py").is_file()


def test_healthchecks_point_at_what_the_services_run(services):
    # postgres: the same user and database the app connects as.
    database = dj_database_url.parse(
        interpolate(services["web"]["environment"]["DATABASE_URL"], {"POSTGRES_PASSWORD": "pw"})
    )
    pg_env = services["postgres"]["environment"]
    assert (database["HOST"], database["PORT"]) == ("postgres", 5432)
    assert database["USER"] == pg_env["POSTGRES_USER"]
    assert database["NAME"] == pg_env["POSTGRES_DB"]
    argv = healthcheck_argv(services["postgres"])
    assert argv[0] == "pg_isready"
    assert argv[argv.index("-U") + 1] == pg_env["POSTGRES_USER"]
    assert argv[argv.index("-d") + 1] == pg_env["POSTGRES_DB"]

    redis_url = services["web"]["environment"]["REDIS_URL"]
    assert redis_url.startswith("redis://redis:6379/")
    assert healthcheck_argv(services["redis"]) == ["redis-cli", "ping"]

    # worker: a real celery subcommand with real options.
    _, sub, ctx = celery_context(healthcheck_argv(services["worker"]))
    assert (sub, ctx.params["command"]) == ("inspect", "ping")

    # beat: the pid file the healthcheck reads is the one beat writes.
    (beat_argv,) = command_lines(services["beat"]["command"])
    pidfile = celery_context(beat_argv)[2].params["pidfile"]
    assert pidfile in services["beat"]["healthcheck"]["test"][1]


def test_app_services_set_only_variables_the_settings_read(services, settings_reads):
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert set(environment) <= settings_reads, (name, set(environment) - settings_reads)
        assert REQUIRED_ENV <= set(environment), (name, REQUIRED_ENV - set(environment))
        assert environment["DEBUG"] == "0", name
        # Required from .env, with no default secret in the file.
        assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?"), name


def test_dockerfile_sets_only_variables_the_settings_read(settings_reads):
    env = dockerfile_env()
    ours = {name for name in env if not name.startswith(RUNTIME_ENV_PREFIXES)}
    assert ours <= settings_reads, ours - settings_reads
    assert {"STATIC_ROOT", "MEDIA_ROOT", "GRIDCMD_VAR_DIR"} <= ours
    # The checked-out tree, not the installed copy, is what runs (templates live beside it).
    workdir = [rest for keyword, rest in dockerfile_instructions() if keyword == "WORKDIR"]
    assert env["PYTHONPATH"] == workdir[-1]


def test_env_example_lists_exactly_what_the_settings_read(settings_reads):
    settings_part, compose_part = env_example_sections()
    assert settings_part == settings_reads, {
        "missing from .env.example": settings_reads - settings_part,
        "not read by the settings": settings_part - settings_reads,
    }
    assert compose_part == COMPOSE_ONLY_ENV


def test_compose_interpolates_only_documented_variables():
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    used = {match.group(1) for match in _INTERPOLATION.finditer(text.replace("$$", ""))}
    settings_part, compose_part = env_example_sections()
    assert used <= settings_part | compose_part, used - (settings_part | compose_part)
    assert COMPOSE_ONLY_ENV <= used


def test_dockerfile_builds_a_non_root_image_from_files_that_exist():
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    assert instructions[0] == ("FROM", "python:3.11-slim")
    for keyword, rest in instructions:
        if keyword in ("COPY", "ADD"):
            *sources, _dest = shlex.split(rest)
            for source in sources:
                assert not source.startswith("--"), "no --from/--chown copies expected"
                assert (BASE_DIR / source).exists(), source
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert re.search(r"pip install (--no-deps )?\.(\s|$)", runs)
    assert "manage.py collectstatic --noinput" in runs
    user = [rest for keyword, rest in instructions if keyword == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("CMD")
    # Nothing runs as root after the switch.
    assert "RUN" not in keywords[keywords.index("USER") :]


def test_dockerignore_keeps_local_state_out_but_not_the_code():
    patterns = [
        line.strip()
        for line in (BASE_DIR / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {".git", ".venv", "var", ".env"} <= set(patterns)
    for needed in ("manage.py", "pyproject.toml", "gridcmd", "grids", "templates", "static"):
        assert (BASE_DIR / needed).exists(), needed
        assert not any(Path(needed).match(pattern) for pattern in patterns), needed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_web_command_serves_its_healthcheck(services, tmp_path):
    """Runs what the web container runs: collectstatic as the Dockerfile does, then web's
    gunicorn command with web's environment (secrets given as .env would), and then web's
    own healthcheck command against it. Only the bind address and worker count differ."""
    web = services["web"]
    given = {
        "SECRET_KEY": production_env()["SECRET_KEY"],
        "ALLOWED_HOSTS": "gridcmd.example.org",
        "POSTGRES_PASSWORD": "not-used-by-static-files",
    }
    env = production_env()
    for name, value in web["environment"].items():
        env[name] = interpolate(value, given)
    image_env = dockerfile_env()
    env.update(
        {
            "PYTHONPATH": str(BASE_DIR),
            "GRIDCMD_VAR_DIR": str(tmp_path / "var"),
            "STATIC_ROOT": str(tmp_path / "var" / "staticfiles"),
            "MEDIA_ROOT": str(tmp_path / "var" / "media"),
        }
    )
    assert set(image_env) >= {"GRIDCMD_VAR_DIR", "STATIC_ROOT", "MEDIA_ROOT"}

    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collect.returncode == 0, collect.stderr

    port = _free_port()
    (argv,) = command_lines(web["command"])
    argv = list(argv)
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    argv[argv.index("--workers") + 1] = "1"
    gunicorn = Path(sys.executable).parent / argv[0]
    check = healthcheck_argv(web)
    assert check[0] == "python"
    check = [sys.executable, *[arg.replace(":8000/", f":{port}/") for arg in check[1:]]]

    server = subprocess.Popen(
        [str(gunicorn), *argv[1:]],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        healthy, result = False, None
        deadline = time.monotonic() + 60  # a bound on start-up, not a timing assertion
        while time.monotonic() < deadline and server.poll() is None:
            result = subprocess.run(check, env=env, capture_output=True, text=True, timeout=30)
            if result.returncode == 0:
                healthy = True
                break
            time.sleep(0.5)
        # The healthcheck can fail: without the proxy's header the SSL redirect answers.
        plain = subprocess.run(
            [sys.executable, "-c", check[2].replace("'X-Forwarded-Proto': 'https'", "")],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert healthy, f"web never passed its healthcheck:\n{result and result.stderr}\n{stderr}"
    assert plain.returncode != 0
