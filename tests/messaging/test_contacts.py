"""Addresses are normalised, found again by a keyed hash, and never stored in clear."""

import pytest

from sereno.lib.errors import InvalidInput
from sereno.messaging.contacts import contact_for, find_contact, normalise_phone
from sereno.messaging.models import Contact

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "raw",
    ["9988-7766", "+504 9988 7766", "50499887766", "whatsapp:+50499887766", "tel:+504-9988-7766"],
)
def test_honduran_numbers_in_every_usual_form_are_one_e164_number(raw):
    assert normalise_phone(raw) == "+50499887766"


def test_a_foreign_number_keeps_its_country():
    assert normalise_phone("+1 (415) 555-2671") == "+14155552671"


@pytest.mark.parametrize("raw", ["", "hola", "12"])
def test_what_is_not_a_phone_number_is_refused_clearly(raw):
    with pytest.raises(InvalidInput):
        normalise_phone(raw)


@pytest.mark.django_db
def test_a_contact_is_found_again_and_its_number_is_never_in_clear():
    first = contact_for(scheme="tel", raw="9988-7766")
    again = contact_for(scheme="tel", raw="+504 9988 7766")
    assert again.pk == first.pk
    assert find_contact("tel", "50499887766").pk == first.pk
    row = Contact.objects.values().get(pk=first.pk)
    stored = " ".join(str(value) for value in row.values())
    assert "99887766" not in stored and "9988" not in stored
    assert first.address == "+50499887766"
    assert str(first) == f"C-{first.pk}"
