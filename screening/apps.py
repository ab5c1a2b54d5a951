from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScreeningConfig(AppConfig):
    name = "screening"
    verbose_name = _("screening")

    def ready(self):
        import gridcmd.arrays  # noqa: F401  (registers __any_of)
        from grids.signals import tree_changed

        from .ledger import tree_changed_receiver

        tree_changed.connect(tree_changed_receiver, dispatch_uid="screening.rollup.tree_changed")
