"""Strip personal data from question text before the query log stores it.

Therapists paste real notes ("pt John Smith DOB 3/4/1961, member W123456789"), so the log
must never keep names, contact details, birth dates or insurance IDs. What billing needs
survives untouched: CPT/HCPCS codes (97124, G0283), modifiers (97140-59), durations
("40 min", "1:15") and recent dates of service.

`redact` is idempotent (redacting twice changes nothing) and pure.
"""

from __future__ import annotations

import re
from datetime import date

EMAIL, PHONE, DATE, ID, NAME = "[email]", "[phone]", "[date]", "[id]", "[name]"

# Cheap gates (see `redact`).
_DIGIT_RUNS = re.compile(r"\d+")
_LETTER_DIGIT = re.compile(r"[A-Za-z]\d|\d[A-Za-z]")
_BIRTH_WORDS = ("dob", "d.o.b", "birth", "born", "bday", "b-day")
_TITLE_WORDS = ("mr", "ms", "dr", "miss", "mx")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_PERSON_WORDS = ("patient", "client", "pt")
_DATE_SIGNS = ("/", ".", "-")
_ID_WORDS = (
    "member",
    "policy",
    "subscriber",
    "insurance",
    "mbi",
    "medicaid",
    "group",
    "claim",
    "account",
    "acct",
    "id",
    "mrn",
    "chart",
    "case",
    "ssn",
    "ref",
    "auth",
)


def _contains_any(words: tuple[str, ...]):
    """`word in text for any word`, as one search of one compiled alternation (the writer asks
    several of these of every logged question; a generator of `in` tests cost ~2 us each)."""
    return re.compile("|".join(map(re.escape, words))).search


_has_birth_word, _has_title_word, _has_month = map(_contains_any, (_BIRTH_WORDS, _TITLE_WORDS, _MONTHS))
_has_id_word, _has_person_word, _has_date_sign = map(_contains_any, (_ID_WORDS, _PERSON_WORDS, _DATE_SIGNS))

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

# US numbers: (555) 123-4567, 555-123-4567, 555.123.4567, +1 555 123 4567, 5551234567.
_PHONE = re.compile(r"(?<![\w/.-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-]?)\d{3}[\s.-]?\d{4}(?![\w/])")

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_NUMERIC_DATE = r"\d{1,2}[/.-]\d{1,2}(?:[/.-](?:\d{4}|\d{2}))?|\d{4}-\d{1,2}-\d{1,2}"
_NAMED_DATE = rf"{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}\s+{_MONTH}(?:,?\s+\d{{4}})?"
# Dates in words: "the third of March", "March twenty-first", "nineteen sixty-one".
_UNIT_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_ORDINAL_WORD = (
    r"(?:(?:twenty|thirty)[- ]?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)|twentieth|thirtieth"
    r"|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth"
    r"|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth)"
)
_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{_ORDINAL_WORD})"
_YEAR_WORDS = (
    rf"(?:(?:nineteen|twenty)\s+(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ]{_UNIT_WORD})?"
    rf"|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|oh[- ]{_UNIT_WORD})"
    rf"|two\s+thousand(?:\s+and)?(?:\s+{_UNIT_WORD})?)"
)
_YEAR = rf"(?:\d{{4}}|'?\d{{2}}\b|{_YEAR_WORDS})"
_WORD_DATE = (
    rf"(?:the\s+)?{_DAY}(?:\s+of)?\s+{_MONTH}(?:,?\s+{_YEAR})?"
    rf"|{_MONTH}\s+(?:the\s+)?{_DAY}(?:,?\s+{_YEAR})?"
    rf"|(?:in\s+)?(?:{_MONTH}\s+)?(?:\d{{4}}|{_YEAR_WORDS})"
)
# After "DOB", "born", "date of birth", "birthday" any date is a birth date, even without a year.
_BIRTH_DATE = re.compile(
    rf"(?i)\b(d\.?o\.?b\.?|date\s+of\s+birth|born(?:\s+on)?|birth\s?day|b-?day)(\s*(?:is|was)?\s*[:#-]?\s*)"
    rf"({_NUMERIC_DATE}|{_WORD_DATE})(?![\w/])"
)
# Elsewhere only full dates (with a year) are considered; see `_looks_like_birth_year`.
_FULL_DATE = re.compile(
    rf"(?i)(?<![\w/.-])(?:(\d{{1,2}})[/.-](\d{{1,2}})[/.-](\d{{4}}|\d{{2}})|(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(\d{{4}})|\d{{1,2}}\s+{_MONTH},?\s+(\d{{4}}))(?![\w/])"
)

# Social Security numbers: 123-45-6789, 123 45 6789 (same separator twice).
_SSN = re.compile(r"(?<![\w/.-])\d{3}([- ])\d{2}\1\d{4}(?![\w/-])")
# Medicare Beneficiary Identifier, with or without dashes: 1EG4-TE5-MK73.
_MBI = re.compile(r"(?i)\b\d[a-z][a-z\d]\d-?[a-z][a-z\d]\d-?[a-z]{2}\d{2}\b")
# An ID after a word that announces one: "member ID: 123456", "policy # AB1234".
_KEYWORD_ID = re.compile(
    r"(?i)\b(member|policy|subscriber|insurance|mbi|medicaid|group|claim|account|acct|id|mrn|chart|case|ssn"
    r"|ref(?:erence)?|auth(?:orization)?)"
    r"((?:\s*(?:id|number|no\.?|num|#))*\s*[:#]?\s*)([a-z\d][a-z\d-]{3,})\b"
)
# Free-standing ID-like tokens: 8+ digits, or 7+ characters mixing letters and 4+ digits.
_LONG_DIGITS = re.compile(r"(?<![\w-])\d{8,}(?![\w-])")
_MIXED = re.compile(r"(?<![\w-])(?=[a-z\d]*[a-z])(?=(?:[a-z]*\d){4})[a-z\d]{7,}(?![\w-])", re.IGNORECASE)
# ...but not a code with units or modifiers glued on: 97140x4, 97140GP, 97140KX.
_CODE_LIKE = re.compile(r"(?i)^(?:\d{5}|[a-z]\d{4})(?:x\d{1,2}|[a-z]{2}|units?|mins?|minutes?)$")

# "patient John Smith", "pt. J. Smith", "client: Mary-Jane O'Neil", "patient named Ann".
# The trigger is case-insensitive; the name must be capitalised, so "a PT can bill" and
# "pt was seen" are left alone.
_NAME_WORD = r"(?:[A-Z][a-zA-Z'’]*[a-z](?:-[A-Za-z'’]+)*|(?:[A-Z]{2,}|[A-Z](?=[-'’][A-Z]))(?:[-'’][A-Z]+)*(?:['’]s)?|[A-Z]\.?)"
_PERSON = re.compile(
    r"\b((?i:patient|client|pt)s?\.?(?:'s)?(?:\s*[:,]\s*|\s+)(?:(?i:named|called|is)\s+)?)"
    r"((?:(?:Mr|Mrs|Ms|Miss|Dr)\.?\s+)?" + _NAME_WORD + r"(?:,?\s+" + _NAME_WORD + r"){0,2})(?![\w'’-])"
)
# "Mrs. Smith", "Dr Patel", "MS. LOPEZ": the title stays, the name goes.
_TITLED = re.compile(
    r"\b((?:Mr|Mrs|Ms|Miss|Mx|Dr|MR|MRS|MS|DR)\.?\s+)(" + _NAME_WORD + r"(?:\s+" + _NAME_WORD + r")?)(?![\w'’-])"
)
# Two or three words in capitals ("JOHN SMITH", "SMITH, JOHN"), unless they are billing
# acronyms or ordinary shouted words (see _CAPS_NOT_NAMES).
_CAPS_RUN = re.compile(r"(?<![\w'’-])[A-Z][A-Z'’-]+(?:,?\s+[A-Z][A-Z'’-]+){1,2}(?![\w'’-])")
_CAPS_NOT_NAMES = frozenset(
    ["DOB", "DOS", "SSN", "MBI", "MRN", "ID", "CMS", "AMA", "CPT", "HCPCS", "NPI", "EIN", "TIN", "EOB", "ERA", "ICD", "PIP", "MVA", "LMT", "LMBT", "CMT", "PT", "OT", "DC", "MD", "DO", "RN", "NP", "PA", "PTA", "COTA", "BCBS", "UHC", "HMO", "PPO", "EPO", "POS", "HSA", "FSA", "ACA", "MA", "ABN", "KX", "GP", "GO", "GN", "CQ", "CO", "PR", "OA", "MLD", "NMR", "TENS", "EMS", "HEP", "ROM", "ADL", "STATE", "OF", "NY", "CA", "TX", "FL", "WA", "OR", "AZ", "NJ", "PA", "IL", "OH", "MI", "GA", "NC", "VA", "MA", "CO", "MN", "WI", "MO", "IN", "TN", "MD", "KY", "LA", "AL", "SC", "OK", "CT", "IA", "UT", "NV", "MEDICARE", "MEDICAID", "TRICARE", "AETNA", "CIGNA", "HUMANA", "KAISER", "UNITED", "ANTHEM", "OPTUM", "BLUE", "CROSS", "SHIELD", "GEICO", "I", "A", "AN", "THE", "AND", "OR", "BUT", "IF", "IS", "IT", "IN", "ON", "AT", "TO", "FOR", "OF", "BY", "WITH", "FROM", "AS", "BE", "WAS", "ARE", "DO", "DOES", "DID", "CAN", "COULD", "SHOULD", "WOULD", "WILL", "MAY", "MUST", "NOT", "NO", "YES", "HOW", "MANY", "MUCH", "WHAT", "WHEN", "WHERE", "WHY", "WHO", "WHICH", "UNIT", "UNITS", "MIN", "MINS", "MINUTE", "MINUTES", "HOUR", "HOURS", "CODE", "CODES", "BILL", "BILLING", "BILLED", "CLAIM", "CLAIMS", "MASSAGE", "THERAPY", "MANUAL", "NEURO", "RE-ED", "RE-EDUCATION", "HOT", "COLD", "PACK", "PACKS", "EVAL", "EVALUATION", "VISIT", "PLEASE", "HELP", "ASAP", "URGENT", "NOTE", "NOTES", "TODAY", "NEW", "OLD", "SAME", "DAY", "RULE", "RULES", "TOTAL", "TIMED", "UNTIMED", "PATIENT", "CLIENT", "MY", "OUR", "YOUR", "HER", "HIS", "THEIR", "ME", "WE", "YOU", "HE", "SHE", "THEY", "THIS", "THAT", "THESE", "THOSE"]
)
# Capitalised words that follow "patient"/"client" but are not names.
_NOT_NAMES = {
    "I",
    "A",
    "Medicare",
    "Medicaid",
    "Tricare",
    "Aetna",
    "Cigna",
    "Humana",
    "Kaiser",
    "United",
    "Unitedhealthcare",
    "Blue",
    "Bcbs",
    "Anthem",
    "Optum",
    "Workers",
    "Auto",
    "Pip",
    "Intake",
    "Portal",
    "Notes",
    "Note",
    "Visit",
    "Visits",
    "Today",
    "Yesterday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "The",
    "This",
    "That",
    "My",
    "Our",
    "Has",
    "Had",
    "Was",
    "Is",
    "Came",
    "Wants",
    "Asked",
    "Said",
    "Can",
    "Should",
    "Will",
}


def redact(text: str, *, today: date | None = None) -> str:
    """Return `text` with personal data replaced by [email], [phone], [date], [id], [name]."""
    if not text:
        return text
    # Each pattern runs only when a cheap check says it could match: the writer redacts every
    # logged question, and most are "40 min 97140"-short.
    low = text.lower()
    runs = [len(run) for run in _DIGIT_RUNS.findall(text)]
    if "@" in text:
        text = _EMAIL.sub(EMAIL, text)
    if runs and 3 in runs and 4 in runs and 2 in runs:
        text = _SSN.sub(ID, text)
    mixed = runs and _LETTER_DIGIT.search(text)
    if mixed:
        text = _MBI.sub(ID, text)
    if _has_birth_word(low):
        text = _BIRTH_DATE.sub(lambda m: f"{m[1]}{m[2]}{DATE}", text)
    if runs and (_has_date_sign(text) or _has_month(low)):
        today = today or date.today()
        text = _FULL_DATE.sub(lambda m: DATE if _looks_like_birth_year(m, today) else m[0], text)
    if runs and (max(runs) >= 10 or (3 in runs and 4 in runs)):
        text = _PHONE.sub(PHONE, text)
    if runs and _has_id_word(low):
        text = _KEYWORD_ID.sub(_keyword_id, text)
    if runs and max(runs) >= 8:
        text = _LONG_DIGITS.sub(ID, text)
    if mixed:
        text = _MIXED.sub(lambda m: m[0] if _CODE_LIKE.match(m[0]) else ID, text)
    if _has_person_word(low):
        text = _PERSON.sub(_person, text)
    if _has_title_word(low):
        text = _TITLED.sub(_titled, text)
    if _CAPS_RUN.search(text):
        text = _CAPS_RUN.sub(_caps_run, text)
    return text


def _looks_like_birth_year(m: re.Match, today: date) -> bool:
    """A full date two or more years back is far more likely a birth date than a date of
    service: claims must be filed within 12 months (Medicare's limit; most payers' are shorter)."""
    year_text = next(g for g in (m[3], m[4], m[7], m[8]) if g)
    year = int(year_text)
    if len(year_text) == 2:
        year += 2000 if year <= today.year % 100 else 1900
    return year <= today.year - 2


def _keyword_id(m: re.Match) -> str:
    token = m[3]
    # Needs a digit, and must not be a CPT/HCPCS code ("claim 97140" keeps the code).
    if not any(c.isdigit() for c in token) or len(token.replace("-", "")) < 6:
        return m[0]
    return f"{m[1]}{m[2]}{ID}"


def _is_name(word: str) -> bool:
    bare = word.rstrip(".,").removesuffix("'s").removesuffix("’s")
    return bare.title() not in _NOT_NAMES and bare.upper() not in _CAPS_NOT_NAMES and len(bare) > 1


def _titled(m: re.Match) -> str:
    words = m[2].split()
    if not _is_name(words[0]):
        return m[0]
    keep = words[1:] if len(words) > 1 and not _is_name(words[1]) else []
    possessive = "'s" if words[len(words) - len(keep) - 1].endswith(("'s", "’s")) else ""
    return f"{m[1]}{NAME}{possessive}" + "".join(" " + w for w in keep)


def _caps_run(m: re.Match) -> str:
    """[name] for each stretch of two or more capitalised words that aren't acronyms or shouting."""
    out, run = [], []
    for piece in re.split(r"(\s+)", m[0]):
        if piece.isspace():
            continue
        if _is_name(piece):
            run.append(piece)
            continue
        out += [NAME + ("," if run[-1].endswith(",") else "")] if len(run) >= 2 else run
        out.append(piece)
        run = []
    out += [NAME] if len(run) >= 2 else run
    return " ".join(out)


def _person(m: re.Match) -> str:
    """[name] for the name words; a non-name word ("Aetna") ends the name, as does a possessive."""
    words = m[2].split()
    name, rest = [], ""
    for i, word in enumerate(words):
        if word.rstrip(".,") in _NOT_NAMES or word.rstrip(".,").upper() in _CAPS_NOT_NAMES:
            rest = " " + " ".join(words[i:])
            break
        if word.endswith(("'s", "’s")):
            name.append(word[:-2])
            rest = word[-2:] + "".join(" " + w for w in words[i + 1 :])
            break
        name.append(word)
    # "patient I saw", "client Medicare covers": not names; "client A" is too ambiguous.
    if not name or all(len(w.rstrip(".")) == 1 for w in name):
        return m[0]
    return f"{m[1]}{NAME}{rest}"
