from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.storage.redact import redact

TODAY = date(2026, 5, 9)


@pytest.mark.parametrize(
    "text, expected",
    [
        # names after patient / pt / client
        ("patient John Smith came in for 40 min of 97124", "patient [name] came in for 40 min of 97124"),
        ("Pt. J. Smith, 53 min 97140", "Pt. [name], 53 min 97140"),
        ("client: Mary-Jane O'Neil wants 97112", "client: [name] wants 97112"),
        ("my patient named Ann was seen", "my patient named [name] was seen"),
        ("patient McDonald, 2 units?", "patient [name], 2 units?"),
        ("patient Mrs. Lee", "patient [name]"),
        ("does patient Ann Lee's Aetna plan cover 97124?", "does patient [name]'s Aetna plan cover 97124?"),
        ("client Jo Medicare Advantage", "client [name] Medicare Advantage"),
        # "PT" as physical therapist, lowercase words, and non-names stay
        ("can a PT bill 97140", "can a PT bill 97140"),
        ("Can a PT bill 97140 for 23 min?", "Can a PT bill 97140 for 23 min?"),
        ("pt was seen for 38 min", "pt was seen for 38 min"),
        ("the patient I saw needs 97124", "the patient I saw needs 97124"),
        ("client Medicare advantage plan", "client Medicare advantage plan"),
        ("outpatient John rules", "outpatient John rules"),
        # e-mail, phone
        ("email mary.lee+notes@example.co.uk about it", "email [email] about it"),
        ("call (555) 123-4567 or 555.123.4567 or +1 555 123 4567", "call [phone] or [phone] or [phone]"),
        ("text 5551234567", "text [phone]"),
        # birth dates: after a DOB word always; elsewhere full dates two or more years back
        ("DOB 3/4/1961, 40 min 97124", "DOB [date], 40 min 97124"),
        ("d.o.b: 03-04-61", "d.o.b: [date]"),
        ("born on March 4th, 1961", "born on [date]"),
        ("birthday 3/4", "birthday [date]"),
        ("seen 1961-03-04", "seen [date]"),
        ("seen 4 March 1961", "seen [date]"),
        ("date of service 5/1/2026 and 12/30/2025", "date of service 5/1/2026 and 12/30/2025"),
        ("on 1/5/2020 she came", "on [date] she came"),
        # member / policy IDs
        ("member ID W123456789", "member ID [id]"),
        ("policy # 98765432", "policy # [id]"),
        ("subscriber no. 123456", "subscriber no. [id]"),
        ("MBI 1EG4-TE5-MK73", "MBI [id]"),
        ("her card says XYZ123456789", "her card says [id]"),
        ("account 1234-5678", "account [id]"),
    ],
)
def test_redacts(text, expected):
    assert expected == redact(text, today=TODAY)


@pytest.mark.parametrize(
    "text",
    [
        "40 min 97124",
        "97140-59 and 97140x4 and 97140GP, G0283, 97110 KX",
        "1:15 of massage, then 8-minute rule",
        "claim 97140 denied, group therapy 97150",
        "Medicare 97124 units for 38 minutes",
        "ICD-10 M54.5 and M62.830",
        "how many units is 1 hour 23 min?",
        "is 97124 timed? 15 min per unit",
        "id 97530",
    ],
)
def test_billing_words_survive(text):
    assert text == redact(text, today=TODAY)


def test_empty():
    assert "" == redact("")


@given(st.text(max_size=80))
def test_idempotent(text):
    once = redact(text, today=TODAY)
    assert once == redact(once, today=TODAY)


@given(st.integers(90000, 99999), st.integers(1, 240))
def test_codes_and_minutes_survive_any_combination(code, minutes):
    text = f"patient Ann Lee {minutes} min {code} and {code}-59"
    assert f"patient [name] {minutes} min {code} and {code}-59" == redact(text, today=TODAY)
