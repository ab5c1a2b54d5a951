"""Roles are Django groups with stable names; their labels are translated for display."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COMMANDER = "commander", _("commander")
    GRID_WORKER = "grid_worker", _("grid worker")
    ADMINISTRATOR = "administrator", _("administrator")


def user_has_role(user, role: str) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._role_names = cached
    return role in cached
