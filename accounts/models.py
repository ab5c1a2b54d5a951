"""User accounts. A user has one jurisdiction (管辖范围): a grid node whose subtree is all
they may see or change. Roles are Django groups (see accounts.roles)."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    jurisdiction = models.ForeignKey(
        "grids.GridNode",
        verbose_name=_("jurisdiction"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The grid whose subtree this user may see and change."),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
