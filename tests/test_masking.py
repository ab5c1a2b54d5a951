import pytest

from gridcmd.masking import mask_id_number, mask_phone


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        (" 138 1234 5678 ", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("8613812345678", "138****5678"),
        (13812345678, "138****5678"),
        # Landlines (and anything else) keep their first 3 and last 2 characters.
        ("0776-2821234", "077*******34"),
        ("07762821234", "077******34"),
        ("2821234", "282**34"),
    ],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize("phone", [None, "", "   "])
def test_mask_phone_of_nothing_is_empty(phone):
    assert mask_phone(phone) == ""


@pytest.mark.parametrize("phone", ["1", "12", "123456", "110", "12345"])
def test_short_phone_is_masked_entirely(phone):
    masked = mask_phone(phone)
    assert masked == "*" * len(phone)


@pytest.mark.parametrize(
    ("id_number", "masked"),
    [
        ("45102419900101123X", "4510**********123X"),
        ("45102419900101123x", "4510**********123X"),
        (" 451024199001011234 ", "4510**********1234"),
        ("451024900101123", "4510*******1123"),  # the old 15-digit cards
    ],
)
def test_mask_id_number(id_number, masked):
    assert mask_id_number(id_number) == masked


@pytest.mark.parametrize("id_number", [None, "", "  "])
def test_mask_id_number_of_nothing_is_empty(id_number):
    assert mask_id_number(id_number) == ""


@pytest.mark.parametrize("id_number", ["4", "4510", "45102419", "45102419900"])
def test_short_id_number_is_masked_entirely(id_number):
    assert mask_id_number(id_number) == "*" * len(id_number)


@pytest.mark.parametrize("value", ["13812345678", "0776-2821234", "45102419900101123X"])
def test_masking_never_reveals_the_middle(value):
    for masked in (mask_phone(value), mask_id_number(value)):
        assert "*" in masked
        assert masked != value
