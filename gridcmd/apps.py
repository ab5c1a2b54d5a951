from importlib import import_module

from django.apps import apps
from django.contrib.admin.apps import SimpleAdminConfig
from django.utils.module_loading import module_has_submodule


class AdminConfig(SimpleAdminConfig):
    """Django's admin, discovering every app's admin module except django-leaflet's, which
    imports GeoDjango and so needs GDAL (docs/adr/0003-geometry-without-geodjango.md)."""

    def ready(self):
        super().ready()
        for app in apps.get_app_configs():
            if app.name != "leaflet" and module_has_submodule(app.module, "admin"):
                import_module(f"{app.name}.admin")
