"""Named colours: every colour an identity can wear has a name, so prompts and descriptors can say it."""

from __future__ import annotations

RGB = tuple[int, int, int]

# garment / bag / hat colours, chosen far apart so they survive 128×128 renders
GARMENT: dict[str, RGB] = {
    "red": (206, 38, 44),
    "orange": (240, 128, 24),
    "yellow": (246, 206, 40),
    "lime": (150, 214, 52),
    "green": (34, 140, 64),
    "teal": (24, 150, 150),
    "sky blue": (96, 176, 236),
    "blue": (36, 84, 200),
    "navy": (28, 36, 92),
    "purple": (122, 58, 170),
    "pink": (240, 120, 178),
    "brown": (120, 74, 40),
    "beige": (216, 196, 150),
    "white": (240, 240, 236),
    "grey": (128, 128, 132),
    "black": (28, 28, 30),
}

HAIR: dict[str, RGB] = {
    "black": (24, 20, 20),
    "dark brown": (70, 42, 24),
    "brown": (124, 78, 40),
    "auburn": (150, 56, 30),
    "ginger": (214, 110, 40),
    "blonde": (232, 196, 110),
    "platinum": (236, 230, 206),
    "grey": (150, 150, 150),
    "blue": (50, 100, 220),
    "pink": (236, 110, 170),
    "green": (60, 170, 90),
    "purple": (130, 70, 190),
}

SKIN: dict[str, RGB] = {
    "pale": (252, 224, 206),
    "fair": (240, 200, 170),
    "light": (226, 178, 140),
    "olive": (198, 150, 104),
    "tan": (176, 122, 80),
    "brown": (140, 90, 56),
    "dark brown": (100, 62, 38),
    "deep": (68, 42, 28),
}

EYES: dict[str, RGB] = {
    "brown": (92, 56, 28),
    "blue": (46, 110, 200),
    "green": (52, 140, 70),
    "grey": (120, 128, 136),
    "amber": (190, 130, 30),
}


def contrast(c: RGB) -> RGB:
    """A second colour that reads clearly on `c` (for patterns and logo marks)."""
    lum = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
    return (245, 245, 240) if lum < 140 else (30, 30, 34)


def shade(c: RGB, f: float) -> RGB:
    """`c` darkened (f < 1) or lightened towards white (f > 1)."""
    if f <= 1:
        return (int(c[0] * f), int(c[1] * f), int(c[2] * f))
    t = min(1.0, f - 1)
    return tuple(int(v + (255 - v) * t) for v in c)  # type: ignore[return-value]
