"""The OpenAPI schema generates cleanly, and the docs page works offline (no CDN)."""

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework.test import APIClient

GRID_PATHS = {
    "/api/v1/grids/",
    "/api/v1/grids/{code}/",
    "/api/v1/grids/{code}/children/",
    "/api/v1/grids/{code}/geojson/",
    "/api/v1/grids/{code}/households/",
    "/api/v1/auth/token/",
}


def test_schema_generates_without_warnings_or_errors(tmp_path):
    # --fail-on-warn turns every drf-spectacular warning or error into SystemExit;
    # --validate checks the result against the OpenAPI 3 specification.
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))
    schema = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert GRID_PATHS <= set(schema["paths"])


@pytest.mark.django_db
def test_schema_endpoint_describes_the_grid_api():
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert GRID_PATHS <= set(schema["paths"])
    grid_list = schema["paths"]["/api/v1/grids/"]["get"]
    assert {p["name"] for p in grid_list["parameters"]} >= {
        "parent",
        "level",
        "category",
        "limit",
        "offset",
    }
    category = next(p for p in grid_list["parameters"] if p["name"] == "category")
    assert set(category["schema"]["enum"]) == {"border", "non_border", "unit"}
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    households = schema["components"]["schemas"]["Household"]["properties"]
    assert households["phone"]["type"] == "string"


@pytest.mark.django_db
def test_docs_page_loads_only_local_static_assets():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "SwaggerUIBundle" in html

    tags = re.findall(r"<(?:script|link)\b[^>]*>", html)
    assets = [
        re.search(r'\b(?:src|href)="([^"]*)"', tag).group(1)
        for tag in tags
        if re.search(r'\b(?:src|href)="', tag)
    ]
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        # And the file is really there to serve (drf-spectacular-sidecar), offline.
        assert finders.find(asset.removeprefix("/static/")), asset
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", html)
    assert not re.search(r"@import\s+url\(\s*['\"]?(?:https?:)?//", html)
