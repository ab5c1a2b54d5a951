import pytest
from django.core.exceptions import ValidationError

from personnel.validators import id_check_digit, validate_id_number, validate_mobile


def test_check_digit_of_the_standards_example():
    # GB 11643-1999's worked example: 11010519491231002X
    assert id_check_digit("11010519491231002") == "X"


@pytest.mark.parametrize(
    "number", ["11010519491231002X", "11010519491231002x", "451024199001011235"]
)
def test_valid_identity_numbers(number):
    if number == "451024199001011235":
        number = number[:17] + id_check_digit(number[:17])
    validate_id_number(number)


@pytest.mark.parametrize(
    "number,code",
    [
        ("110105194912310021", "id_check"),
        ("1101051949123100", "id_format"),
        ("110105194902300020", "id_birth"),
        ("abc", "id_format"),
    ],
)
def test_invalid_identity_numbers(number, code):
    if code == "id_birth":
        number = number[:17] + id_check_digit(number[:17])
    with pytest.raises(ValidationError) as err:
        validate_id_number(number)
    assert err.value.code == code


@pytest.mark.parametrize("mobile", ["13812345678", "138 1234 5678", "+8619912345678"])
def test_valid_mobiles(mobile):
    validate_mobile(mobile)


@pytest.mark.parametrize("mobile", ["12812345678", "1381234567", "23812345678", "", None])
def test_invalid_mobiles(mobile):
    with pytest.raises(ValidationError):
        validate_mobile(mobile)
