"""Jurisdiction scoping, in one place.

A user sees the subtree of their jurisdiction grid; a superuser sees everything; a user
with no jurisdiction sees nothing. Every model that hangs on the tree gets its queryset
from ScopedQuerySet and names the path it is scoped by, so every selector, page, API,
export and import asks the same question the same way.
"""

from django.db import models


def jurisdiction_prefix(user) -> str | None:
    """The path prefix a user may see: "" for everything, None for nothing."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return ""
    jurisdiction = getattr(user, "jurisdiction", None)
    return jurisdiction.path if jurisdiction is not None else None


def path_in_jurisdiction(user, path: str) -> bool:
    prefix = jurisdiction_prefix(user)
    return prefix is not None and path.startswith(prefix)


class ScopedQuerySet(models.QuerySet):
    #: The lookup, from this model, of the grid path it belongs to.
    path_field = "path"

    def visible_to(self, user):
        prefix = jurisdiction_prefix(user)
        if prefix is None:
            return self.none()
        if prefix == "":
            return self
        return self.in_subtree(prefix)

    def in_subtree(self, prefix: str):
        """Rows under a path prefix; a model whose rows belong to a subtree in more than
        one way (a person registered there, or assigned there) overrides this."""
        return self.filter(**{f"{self.path_field}__startswith": prefix})
