"""Draw one person as an antialiased RGBA sprite with a part-label map and ArcFace landmarks.

Geometry is in body units: y runs from 0 (top of the tallest hat) to 1 (soles), x from the centre
line. The head is large (a quarter of the body) so identity cues stay visible at low resolution.
Sprites are cached per (identity, facing, expression, pose, height, rotation).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from .identity import Character, character
from .painter import Painter, Part
from .palette import EYES, GARMENT, HAIR, RGB, SKIN, contrast, shade

FACINGS = ("front", "left", "right")
EXPRESSIONS = ("neutral", "smiling", "laughing", "eyes closed", "surprised")
POSES = ("arms down", "waving", "hands on hips", "holding bag")
WIDTH_RATIO = 0.8  # sprite width / sprite height

_HEAD = {
    "round": (0.116, 0.125),
    "oval": (0.098, 0.128),
    "square": (0.11, 0.122),
    "long": (0.09, 0.135),
    "wide": (0.13, 0.116),
}
_BUILD = {"slim": (0.125, 0.1), "regular": (0.148, 0.115), "broad": (0.175, 0.132)}
_HEAD_Y = 0.2
_INK: RGB = (30, 24, 24)


@dataclass(frozen=True)
class Sprite:
    rgba: np.ndarray  # (h, w, 4) uint8, antialiased
    labels: np.ndarray  # (h, w) uint8 Part values, 0 outside
    landmarks: np.ndarray  # (5, 2) float64 sprite pixels: l-eye, r-eye, nose tip, l-mouth, r-mouth
    anchor: tuple[float, float]  # foot centre in sprite pixels


def _arm_joints(pose: str, side: int, sw: float, ww: float, bag_side: int):
    """(shoulder, elbow, hand) in units for the arm on image side `side` (-1 left, +1 right)."""
    s = side
    shoulder = (s * (sw - 0.02), 0.385)
    if pose == "waving" and side == 1:
        return shoulder, (s * (sw + 0.1), 0.3), (s * (sw + 0.13), 0.15)
    if pose == "hands on hips":
        return shoulder, (s * (sw + 0.09), 0.49), (s * (ww + 0.01), 0.615)
    if pose == "holding bag" and side == bag_side:
        return shoulder, (s * (sw + 0.05), 0.5), (s * (sw - 0.01), 0.56)
    return shoulder, (s * (sw + 0.025), 0.5), (s * (sw + 0.035), 0.63)


def _draw_back_hair(pt: Painter, c: Character, rx: float, hair: RGB, f: int) -> None:
    st = c.hair_style
    if st == "long":
        pt.rect(-rx - 0.025, 0.13, rx + 0.025, 0.43, hair, Part.hair, radius=0.05)
    elif st == "bob":
        pt.rect(-rx - 0.02, 0.1, rx + 0.02, 0.3, hair, Part.hair, radius=0.04)
    elif st == "curly":
        for ang in np.linspace(0.0, np.pi, 7):
            pt.ellipse(np.cos(ang) * (rx + 0.01), _HEAD_Y - np.sin(ang) * 0.11, 0.052, 0.052, hair, Part.hair)
        for sx in (-1, 1):
            pt.ellipse(sx * (rx + 0.015), _HEAD_Y + 0.05, 0.045, 0.05, hair, Part.hair)
    elif st == "ponytail":
        sx = -f if f else 1
        pt.ellipse(sx * (rx + 0.04), _HEAD_Y + 0.03, 0.04, 0.1, hair, Part.hair)
    elif st == "bun":
        pt.ellipse(0.0, 0.06, 0.05, 0.045, hair, Part.hair)


def _draw_lower(pt: Painter, c: Character, skin: RGB, colour: RGB, f: int) -> None:
    cut = c.lower_cut
    if cut in ("shorts", "skirt", "long skirt"):  # bare legs first
        for sx in (-1, 1):
            pt.rect(sx * 0.065 - 0.035, 0.7, sx * 0.065 + 0.035, 0.95, skin, Part.skin)
    if cut in ("trousers", "shorts"):
        end = 0.945 if cut == "trousers" else 0.77
        pt.rect(-0.118, 0.6, 0.118, 0.69, colour, Part.lower, radius=0.02)
        for sx in (-1, 1):
            pt.polygon(
                [(sx * 0.118, 0.62), (sx * 0.004, 0.62), (sx * 0.02, end), (sx * 0.108, end)],
                colour,
                Part.lower,
            )
    else:
        hem, wide = (0.8, 0.165) if cut == "skirt" else (0.93, 0.19)
        pt.polygon([(-0.118, 0.6), (0.118, 0.6), (wide, hem), (-wide, hem)], colour, Part.lower)
    if c.lower_pattern != "solid":
        pt.pattern(Part.lower, c.lower_pattern, contrast(colour), pt.px(0.045), vertical=True)
    shoe = GARMENT[c.shoe_colour]
    for sx in (-1, 1):
        x = sx * 0.065 + 0.022 * f
        if c.shoes == "boots":
            pt.rect(x - 0.045, 0.88, x + 0.045, 0.995, shoe, Part.shoes, radius=0.015)
        else:
            pt.ellipse(x, 0.965, 0.05, 0.03, shoe, Part.shoes)
            pt.rect(x - 0.05, 0.968, x + 0.05, 0.99, shade(shoe, 1.5), Part.shoes)


def _draw_logo(pt: Painter, shape: str, colour: RGB, y: float) -> None:
    r = 0.04
    if shape == "circle":
        pt.ellipse(0.0, y, r, r, colour, Part.upper)
    elif shape == "diamond":
        pt.polygon([(0, y - r), (r, y), (0, y + r), (-r, y)], colour, Part.upper)
    elif shape == "triangle":
        pt.polygon([(0, y - r), (r, y + r * 0.8), (-r, y + r * 0.8)], colour, Part.upper)
    elif shape == "heart":
        pt.ellipse(-r * 0.5, y - r * 0.3, r * 0.55, r * 0.55, colour, Part.upper)
        pt.ellipse(r * 0.5, y - r * 0.3, r * 0.55, r * 0.55, colour, Part.upper)
        pt.polygon([(-r * 1.02, y - r * 0.1), (r * 1.02, y - r * 0.1), (0, y + r)], colour, Part.upper)
    else:  # star
        ang = np.pi / 2 + np.arange(10) * np.pi / 5
        rad = np.where(np.arange(10) % 2 == 0, r * 1.2, r * 0.5)
        pt.polygon(
            [(float(np.cos(a) * q), float(y - np.sin(a) * q)) for a, q in zip(ang, rad, strict=True)],
            colour,
            Part.upper,
        )


def _draw_bag(
    pt: Painter, c: Character, at: tuple[float, float], strap_from: tuple[float, float] | None
) -> None:
    col = GARMENT[c.bag_colour]
    dark = shade(col, 0.6)
    x, y = at  # top centre of the bag
    if strap_from is not None:
        pt.line([strap_from, (x, y + 0.01)], dark, 0.014, Part.bag)
    if c.bag == "handbag":
        pt.arc(x, y + 0.02, 0.04, 0.04, 180, 360, dark, 0.014, Part.bag)
        pt.polygon(
            [(x - 0.055, y + 0.02), (x + 0.055, y + 0.02), (x + 0.07, y + 0.11), (x - 0.07, y + 0.11)],
            col,
            Part.bag,
        )
    elif c.bag == "tote bag":
        for sx in (-1, 1):
            pt.line(
                [(x + sx * 0.035, y + 0.03), (x + sx * 0.02, y - 0.01), (x, y - 0.015)], dark, 0.01, Part.bag
            )
        pt.rect(x - 0.06, y + 0.025, x + 0.06, y + 0.15, col, Part.bag, radius=0.008)
    elif c.bag == "shoulder bag":
        pt.rect(x - 0.055, y, x + 0.055, y + 0.085, col, Part.bag, radius=0.02)
        pt.chord(x, y, 0.055, 0.05, 0, 180, dark, Part.bag)
    else:  # duffel bag
        pt.rect(x - 0.085, y + 0.01, x + 0.085, y + 0.08, col, Part.bag, radius=0.035)
        pt.rect(x - 0.085, y + 0.035, x + 0.085, y + 0.05, contrast(col), Part.bag)


def _draw_upper_and_arms(pt: Painter, c: Character, skin: RGB, pose: str, f: int) -> tuple[float, float]:
    """Torso, neck, sleeves and arms; returns the hand position of the bag arm."""
    sw, ww = _BUILD[c.build]
    col = GARMENT[c.upper_colour]
    bag_side = -1 if f >= 0 else 1
    pt.rect(-0.035, 0.29, 0.035, 0.38, shade(skin, 0.88), Part.skin)
    if c.upper_kind == "hoodie":
        pt.ellipse(0.0, 0.345, sw * 0.75, 0.045, shade(col, 0.8), Part.upper)
    pt.polygon([(-sw, 0.36), (sw, 0.36), (ww, 0.645), (-ww, 0.645)], col, Part.upper)
    for sx in (-1, 1):
        pt.ellipse(sx * (sw - 0.03), 0.39, 0.04, 0.035, col, Part.upper)
    if c.upper_kind == "shirt":
        pt.polygon([(-0.04, 0.355), (0.0, 0.4), (0.04, 0.355)], contrast(col), Part.upper)
    else:
        pt.chord(0.0, 0.35, 0.045, 0.03, 0, 180, shade(skin, 0.88), Part.skin)
    if c.upper_kind == "jacket":
        pt.rect(-0.018, 0.37, 0.018, 0.645, contrast(col), Part.upper)
    if c.upper_pattern == "logo":
        _draw_logo(pt, c.upper_logo, contrast(col), 0.47)
    sleeve = {"t-shirt": 0.45, "shirt": 1.0, "sweater": 1.0, "hoodie": 1.0, "jacket": 1.0}[c.upper_kind]
    bag_hand = (0.0, 0.0)
    for side in (-1, 1):
        sh, el, ha = _arm_joints(pose, side, sw, ww, bag_side)
        pt.line([sh, el, ha], skin, 0.058, Part.skin)
        if sleeve >= 1.0:
            fx, fy = el[0] + 0.8 * (ha[0] - el[0]), el[1] + 0.8 * (ha[1] - el[1])
            pt.line([sh, el, (fx, fy)], col, 0.064, Part.upper)
        else:
            mx, my = sh[0] + sleeve * (el[0] - sh[0]) * 2, sh[1] + sleeve * (el[1] - sh[1]) * 2
            pt.line([sh, (mx, my)], col, 0.068, Part.upper)
        pt.ellipse(ha[0], ha[1], 0.032, 0.032, skin, Part.skin)
        if side == bag_side:
            bag_hand = ha
    if c.upper_pattern in ("striped", "dotted", "checked"):
        pt.pattern(Part.upper, c.upper_pattern, contrast(col), pt.px(0.05))
    return bag_hand


def _draw_head(pt: Painter, c: Character, skin: RGB, hair: RGB, expression: str, f: int) -> np.ndarray:
    """Head, hair, hat, face features; returns the 5 landmarks in units."""
    rx, ry = _HEAD[c.head]
    cy = _HEAD_Y
    turn = 0.85 if f else 1.0
    dx = 0.032 * f  # features shift towards the facing side
    for sx in (-1, 1) if f == 0 else (-f,):
        pt.ellipse(sx * rx * (0.98 if f == 0 else 0.75), cy + 0.01, 0.022, 0.03, shade(skin, 0.92), Part.face)
    if c.head == "square":
        pt.rect(-rx, cy - ry, rx, cy + ry, skin, Part.face, radius=0.045)
    else:
        pt.ellipse(0.0, cy, rx, ry, skin, Part.face)
    # face marks under the features
    hair_dark = hair if c.hair_style != "bald" else HAIR["dark brown"]
    if c.mark == "full beard":
        pt.chord(dx * 0.5, cy + 0.02, rx * 0.98, ry * 0.95, 22, 158, hair_dark, Part.face)
    elif c.mark == "goatee":
        pt.ellipse(dx * 1.1, cy + 0.105, 0.028, 0.024, hair_dark, Part.face)
    # eyes
    ex, ey = 0.046 * turn, cy + 0.005
    eye_col = EYES[c.eye_colour]
    eyes = [(dx - ex, ey), (dx + ex, ey)]
    for x, y in eyes:
        if expression == "eyes closed":
            pt.arc(x, y - 0.004, 0.02, 0.012, 10, 170, _INK, 0.008, Part.face)
        elif expression == "laughing":
            pt.arc(x, y + 0.01, 0.02, 0.016, 200, 340, _INK, 0.009, Part.face)
        else:
            big = 1.3 if expression == "surprised" else 1.0
            if c.eye_shape == "round":
                pt.ellipse(x, y, 0.02 * big, 0.02 * big, (250, 250, 250), Part.face)
                pt.ellipse(x + 0.004 * f, y, 0.014, 0.014, shade(eye_col, 0.7), Part.face)
            elif c.eye_shape == "almond":
                pt.ellipse(x, y, 0.026 * big, 0.014 * big, (250, 250, 250), Part.face)
                pt.ellipse(x + 0.005 * f, y, 0.012, 0.012, eye_col, Part.face)
            else:
                pt.ellipse(x, y, 0.026 * big, 0.024 * big, (250, 250, 250), Part.face)
                pt.ellipse(x + 0.005 * f, y + 0.002, 0.016, 0.016, eye_col, Part.face)
            pt.ellipse(x + 0.005 * f, y, 0.006, 0.006, (10, 10, 10), Part.face)
    # brows
    by = cy - (0.05 if expression == "surprised" else 0.035)
    brow = shade(hair_dark, 0.75)
    bw = {"thin": 0.007, "thick": 0.016, "arched": 0.009, "straight": 0.011}[c.brows]
    for x, _ in eyes:
        if c.brows == "arched":
            pt.arc(x, by + 0.012, 0.028, 0.016, 200, 340, brow, bw, Part.face)
        else:
            pt.line(
                [(x - 0.026, by), (x + 0.026, by - (0.004 if c.brows == "thin" else 0.0))],
                brow,
                bw,
                Part.face,
            )
    # nose
    nose = (dx * 1.6, cy + 0.048)
    nose_col = shade(skin, 0.72)
    if c.nose == "long":
        pt.line([(dx * 1.2, cy + 0.005), nose], nose_col, 0.008, Part.face)
        pt.ellipse(nose[0], nose[1], 0.011, 0.007, nose_col, Part.face)
    elif c.nose == "wide":
        pt.ellipse(nose[0], nose[1] - 0.004, 0.022, 0.011, nose_col, Part.face)
    elif c.nose == "button":
        pt.ellipse(nose[0], nose[1] - 0.004, 0.012, 0.012, shade(skin, 0.82), Part.face)
    else:
        pt.ellipse(nose[0], nose[1], 0.008, 0.006, nose_col, Part.face)
    # mouth
    mw = {"narrow": 0.024, "medium": 0.032, "wide": 0.042}[c.mouth] * turn
    mx, my = dx * 1.2, cy + 0.085
    lip = (150, 50, 50)
    if c.mark == "moustache":
        pt.ellipse(mx, my - 0.014, mw + 0.008, 0.011, hair_dark, Part.face)
    if expression == "neutral":
        pt.line([(mx - mw, my), (mx + mw, my)], lip, 0.008, Part.face)
    elif expression == "eyes closed":
        pt.arc(mx, my - 0.014, mw, 0.018, 15, 165, lip, 0.009, Part.face)
        my -= 0.014 - 0.018 * np.sin(np.radians(15))
    elif expression == "smiling":
        # a wide, deep, thick smile and flushed cheeks: still readable when the face is ~10 px wide
        for sx in (-1, 1):
            pt.ellipse(dx + sx * 0.06 * turn, cy + 0.05, 0.022, 0.014, (232, 110, 110), Part.face)
        sw = mw * 1.35
        pt.arc(mx, my - 0.024, sw, 0.03, 10, 170, lip, 0.016, Part.face)
        my -= 0.024 - 0.03 * np.sin(np.radians(10))
    elif expression == "laughing":
        pt.chord(mx, my - 0.004, mw, 0.03, 0, 180, (90, 16, 24), Part.face)
        pt.rect(mx - mw * 0.8, my - 0.004, mx + mw * 0.8, my + 0.006, (250, 250, 250), Part.face)
        my -= 0.004
    else:  # surprised
        mw = 0.016
        pt.ellipse(mx, my, mw, 0.02, (90, 16, 24), Part.face)
    if c.mark == "freckles":
        for sx in (-1, 1):
            for k in range(3):
                pt.ellipse(
                    dx + sx * (0.055 + 0.012 * k),
                    cy + 0.04 + 0.008 * (k % 2),
                    0.005,
                    0.005,
                    shade(skin, 0.65),
                    Part.face,
                )
    elif c.mark == "mole":
        pt.ellipse(dx + 0.06, cy + 0.065, 0.008, 0.008, (50, 30, 24), Part.face)
    # glasses
    if c.glasses != "none":
        gl = (20, 20, 24)
        for x, y in eyes:
            if c.glasses == "sunglasses":
                pt.ellipse(x, y, 0.034, 0.026, gl, Part.face)
            elif c.glasses == "round glasses":
                pt.ring(x, y, 0.033, 0.033, gl, 0.008, Part.face)
            else:
                pt.rect_outline(x - 0.035, y - 0.026, x + 0.035, y + 0.026, gl, 0.008, Part.face)
        pt.line([(eyes[0][0] + 0.03, ey - 0.006), (eyes[1][0] - 0.03, ey - 0.006)], gl, 0.007, Part.face)
    _draw_front_hair(pt, c, rx, ry, hair, f)
    _draw_hat(pt, c, rx, f)
    return np.array([eyes[0], eyes[1], nose, (mx - mw, my), (mx + mw, my)], np.float64)


def _draw_front_hair(pt: Painter, c: Character, rx: float, ry: float, hair: RGB, f: int) -> None:
    st = c.hair_style
    top = _HEAD_Y - ry
    if st == "bald":
        return
    if st == "buzz":
        pt.chord(0.0, top + 0.06, rx * 1.02, 0.066, 180, 360, shade(hair, 1.25), Part.hair)
        return
    if st == "mohawk":
        pt.chord(0.0, top + 0.06, rx * 1.0, 0.064, 180, 360, shade(hair, 1.4), Part.hair)
        pt.rect(-0.022, top - 0.06, 0.022, top + 0.05, hair, Part.hair, radius=0.015)
        return
    pt.chord(0.01 * f, top + 0.075, rx + 0.016, 0.085, 180, 360, hair, Part.hair)
    if st == "spiky":
        xs = np.linspace(-rx, rx, 7)
        pts = [(float(x), top + (0.0 if k % 2 else -0.07)) for k, x in enumerate(xs)]
        pt.polygon([(-rx - 0.01, top + 0.05), *pts, (rx + 0.01, top + 0.05)], hair, Part.hair)
    elif st in ("bob", "long"):
        for sx in (-1, 1):
            pt.rect(
                sx * (rx + 0.018) - 0.028,
                top + 0.04,
                sx * (rx + 0.018) + 0.005 * sx,
                _HEAD_Y + 0.09,
                hair,
                Part.hair,
                radius=0.012,
            )
    elif st == "curly":
        for x in np.linspace(-rx * 0.8, rx * 0.8, 4):
            pt.ellipse(float(x), top + 0.03, 0.035, 0.032, shade(hair, 1.1), Part.hair)
    elif st == "short":
        pt.chord(-0.03 * (f or 1), top + 0.055, rx * 0.8, 0.05, 180, 360, shade(hair, 0.8), Part.hair)


def _draw_hat(pt: Painter, c: Character, rx: float, f: int) -> None:
    if c.hat == "none":
        return
    col = GARMENT[c.hat_colour]
    top = _HEAD_Y - _HEAD[c.head][1]
    if c.hat == "cap":
        pt.chord(0.0, top + 0.06, rx + 0.012, 0.075, 180, 360, col, Part.hat)
        vx = 0.07 * f if f else 0.0
        pt.ellipse(vx, top + 0.058, rx * (0.9 if f else 1.15), 0.016, shade(col, 0.7), Part.hat)
    elif c.hat == "beanie":
        pt.chord(0.0, top + 0.07, rx + 0.015, 0.09, 180, 360, col, Part.hat)
        pt.rect(-rx - 0.018, top + 0.035, rx + 0.018, top + 0.07, shade(col, 0.75), Part.hat, radius=0.01)
        pt.ellipse(0.0, top - 0.025, 0.025, 0.025, contrast(col), Part.hat)
    elif c.hat == "top hat":
        pt.rect(-0.075, top - 0.075, 0.075, top + 0.04, col, Part.hat, radius=0.006)
        pt.rect(-0.075, top + 0.0, 0.075, top + 0.02, contrast(col), Part.hat)
        pt.rect(-0.13, top + 0.035, 0.13, top + 0.055, shade(col, 0.8), Part.hat, radius=0.01)
    else:  # sun hat
        pt.ellipse(0.0, top + 0.05, 0.2, 0.032, shade(col, 0.85), Part.hat)
        pt.chord(0.0, top + 0.05, rx + 0.01, 0.075, 180, 360, col, Part.hat)


def draw_person(c: Character, facing: str, expression: str, pose: str, height: int) -> Sprite:
    """Draw `c` standing, `height` output pixels tall (feet at the bottom row)."""
    if facing not in FACINGS or expression not in EXPRESSIONS or pose not in POSES:
        raise ValueError(f"unknown facing/expression/pose: {facing!r}, {expression!r}, {pose!r}")
    f = {"front": 0, "left": -1, "right": 1}[facing]
    width = max(4, round(height * WIDTH_RATIO))
    pt = Painter(width, height, unit=float(height), cx=width / 2)
    skin, hair = SKIN[c.skin], HAIR[c.hair_colour]
    rx = _HEAD[c.head][0]
    _draw_back_hair(pt, c, rx, hair, f)
    _draw_lower(pt, c, skin, GARMENT[c.lower_colour], f)
    bag_side = -1 if f >= 0 else 1
    holding = pose == "holding bag" and c.has_bag
    if c.has_bag and not holding:  # bag worn at the hip, strap over the far shoulder, behind the arm
        sw = _BUILD[c.build][0]
        _draw_bag(pt, c, (bag_side * (sw + 0.04), 0.56), (-bag_side * (sw - 0.04), 0.37))
    hand = _draw_upper_and_arms(pt, c, skin, pose, f)
    if holding:
        _draw_bag(pt, c, (hand[0], hand[1] + 0.015), None)
    marks = _draw_head(pt, c, skin, hair, expression, f)
    rgba, labels = pt.finish()
    lm = np.stack([width / 2 + marks[:, 0] * height, marks[:, 1] * height], axis=1)
    return Sprite(rgba, labels, lm, (width / 2, float(height)))


def rotate_sprite(s: Sprite, degrees: float) -> Sprite:
    """`s` rotated clockwise by `degrees` about its foot point, canvas grown to fit (premultiplied)."""
    if degrees == 0:
        return s
    h, w = s.labels.shape
    ax, ay = s.anchor
    im = Image.fromarray(s.rgba, "RGBA").convert("RGBa")
    # PIL rotates counter-clockwise about `center`; expand keeps everything in view
    rot = im.rotate(-degrees, Image.Resampling.BILINEAR, expand=True, center=(ax, ay))
    lab = Image.fromarray(s.labels).rotate(-degrees, Image.Resampling.NEAREST, expand=True, center=(ax, ay))
    # where the anchor went: PIL's expand translates so the rotated bounding box starts at 0
    t = np.radians(degrees)
    cos, sin = np.cos(t), np.sin(t)
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64)

    def fwd(p: np.ndarray) -> np.ndarray:
        d = p - (ax, ay)
        return np.stack([d[:, 0] * cos - d[:, 1] * sin, d[:, 0] * sin + d[:, 1] * cos], axis=1) + (ax, ay)

    rc = fwd(corners)
    nw, nh = rot.size
    off = np.array(
        [
            (nw - (rc[:, 0].max() - rc[:, 0].min())) / 2 - rc[:, 0].min(),
            (nh - (rc[:, 1].max() - rc[:, 1].min())) / 2 - rc[:, 1].min(),
        ]
    )
    lm = fwd(s.landmarks) + off
    anchor = fwd(np.array([[ax, ay]]))[0] + off
    labels = np.asarray(lab).copy()
    rgba = np.asarray(rot.convert("RGBA")).copy()
    labels[rgba[..., 3] == 0] = 0
    return Sprite(rgba, labels, lm, (float(anchor[0]), float(anchor[1])))


@lru_cache(maxsize=4096)
def sprite(identity: int, facing: str, expression: str, pose: str, height: int, rotation: int = 0) -> Sprite:
    """Cached sprite of `identity`; arrays are shared, treat them as read-only."""
    s = rotate_sprite(draw_person(character(identity), facing, expression, pose, height), rotation)
    s.rgba.setflags(write=False)
    s.labels.setflags(write=False)
    return s
