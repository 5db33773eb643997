"""Words for a character: per-category item descriptors and short references for prompts."""

from __future__ import annotations

from .identity import Character

_HAIR_WORDS = {
    "bald": None,
    "buzz": "buzz-cut",
    "short": "short",
    "bob": "bob-cut",
    "long": "long",
    "ponytail": "ponytailed",
    "spiky": "spiky",
    "curly": "curly",
    "mohawk": "mohawk",
    "bun": "bunned",
}
_PATTERN = {"solid": "", "striped": "striped ", "dotted": "polka-dot ", "checked": "checked ", "logo": ""}


def hair_phrase(c: Character) -> str:
    word = _HAIR_WORDS[c.hair_style]
    return "a bald head" if word is None else f"{word} {c.hair_colour} hair"


def upper_descriptor(c: Character) -> str:
    logo = f" with a {c.upper_logo} logo" if c.upper_pattern == "logo" else ""
    return f"a {c.upper_colour} {_PATTERN[c.upper_pattern]}{c.upper_kind}{logo}"


def lower_descriptor(c: Character) -> str:
    body = f"{c.lower_colour} {_PATTERN[c.lower_pattern]}{c.lower_cut}"
    return body if c.lower_cut in ("trousers", "shorts") else f"a {body}"


def bag_descriptor(c: Character) -> str | None:
    return None if not c.has_bag else f"a {c.bag_colour} {c.bag}"


def face_descriptor(c: Character) -> str:
    extras = [f"{c.eye_colour} eyes"]
    if c.mark != "none":
        extras.append("a mole" if c.mark == "mole" else c.mark)
    if c.glasses != "none":
        extras.append(c.glasses)
    return f"a {c.head} face with {c.skin} skin, {hair_phrase(c)}, " + ", ".join(extras)


def descriptors(c: Character) -> dict[str, str | None]:
    """Per-category item descriptors keyed like `Category` values."""
    return {
        "face": face_descriptor(c),
        "upper_garment": upper_descriptor(c),
        "lower_garment": lower_descriptor(c),
        "bag": bag_descriptor(c),
    }


def person_phrase(c: Character) -> str:
    """'a person with long blonde hair and round glasses wearing a red striped t-shirt and navy shorts'."""
    head = [hair_phrase(c)]
    if c.mark in ("full beard", "goatee", "moustache"):
        head.append(f"a {c.mark}" if c.mark != "full beard" else "a full beard")
    if c.glasses != "none":
        head.append(c.glasses)
    if c.hat != "none":
        head.append(f"a {c.hat_colour} {c.hat}")
    wear = [upper_descriptor(c), lower_descriptor(c)]
    bag = bag_descriptor(c)
    with_bag = f", carrying {bag}" if bag else ""
    return f"a person with {' and '.join(head)} wearing {' and '.join(wear)}{with_bag}"


def short_ref(c: Character) -> str:
    """A distinguishing reference: 'the person in the red t-shirt'."""
    return f"the person in the {c.upper_colour} {c.upper_kind}"
