from django.contrib.auth.models import Group
from django.db import transaction

from .models import User
from .roles import Role


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    jurisdiction=None,
    roles: list[str] = (),
    is_superuser: bool = False,
    **extra,
) -> User:
    if is_superuser:
        user = User.objects.create_superuser(
            username=username, password=password, jurisdiction=jurisdiction, **extra
        )
    else:
        user = User.objects.create_user(
            username=username, password=password, jurisdiction=jurisdiction, **extra
        )
    for role in roles:
        group, _ = Group.objects.get_or_create(name=Role(role).value)
        user.groups.add(group)
    return user
