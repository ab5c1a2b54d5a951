"""The interface speaks Simplified Chinese first: every message in the catalogue has a
Chinese translation, and the compiled catalogue Django loads says the same as the source."""

import gettext
from pathlib import Path

import polib
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import override

PO = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_every_message_is_translated():
    catalogue = polib.pofile(str(PO))
    untranslated = [e.msgid for e in catalogue if not e.obsolete and not e.translated()]
    assert untranslated == []
    assert [e.msgid for e in catalogue if "fuzzy" in e.flags] == []


def test_compiled_catalogue_matches_the_source():
    compiled = gettext.GNUTranslations(PO.with_suffix(".mo").open("rb"))

    def compiled_text(entry):
        if entry.msgctxt:
            return compiled.pgettext(entry.msgctxt, entry.msgid)
        return compiled.gettext(entry.msgid)

    stale = [
        e.msgid
        for e in polib.pofile(str(PO))
        if not e.obsolete and not e.msgid_plural and e.msgstr and compiled_text(e) != e.msgstr
    ]
    assert stale == [], "run `make messages` to recompile locale/"


def test_chinese_is_the_default_and_english_is_available():
    with override(settings.LANGUAGE_CODE):
        assert _("Grid-based epidemic command platform") == "网格化防控指挥平台"
    with override("en"):
        assert _("Grid-based epidemic command platform") == "Grid-based epidemic command platform"
