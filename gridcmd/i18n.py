"""Bilingual messages. Errors a clerk reads (imports, API validation) carry Chinese and
English together, so a spreadsheet error report is understood whatever the UI language."""

from dataclasses import dataclass, field

from django.utils.translation import override


def bilingual(message, **params) -> str:
    """Render a lazy translatable message as "中文 / English"."""
    with override("zh-hans"):
        zh = str(message) % params if params else str(message)
    with override("en"):
        en = str(message) % params if params else str(message)
    return zh if zh == en else f"{zh} / {en}"


@dataclass(frozen=True)
class Problem:
    """One validation problem: the column (field) it concerns and a translatable message
    whose %(name)s placeholders are filled from params in whatever language renders it."""

    field: str
    message: object  # a gettext_lazy string
    params: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)

    @property
    def text(self) -> str:
        return bilingual(self.message, **self.params)
