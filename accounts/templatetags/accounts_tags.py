"""Template helpers about the signed-in user, for the navigation in base.html."""

from django import template

from accounts.roles import Role, user_has_role

register = template.Library()


@register.simple_tag
def is_administrator(user) -> bool:
    """Administrators and superusers may import; others do not see the link."""
    return user_has_role(user, Role.ADMINISTRATOR)
