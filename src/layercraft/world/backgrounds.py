"""Background plates: 8 kinds × 3 times of day, each instance laid out by a seed.

Drawn with PIL at 2× and box-reduced (antialiased). Ground colours are tinted by the time of day;
sky, sun, moon, stars and lit windows are not (they are the light). Cached per
(kind, time, seed, width, height) because all images of a scene share one instance.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from .palette import GARMENT, RGB

KINDS = ("beach", "snow", "forest", "city street", "park", "desert", "studio", "night sky")
TIMES = ("day", "sunset", "night")
SS = 2

_SKY = {
    "day": ((70, 140, 225), (185, 222, 250)),
    "sunset": ((60, 50, 130), (250, 150, 90)),
    "night": ((6, 10, 32), (30, 42, 86)),
}
TIME_GAIN = {"day": (1.0, 1.0, 1.0), "sunset": (1.02, 0.86, 0.72), "night": (0.5, 0.56, 0.78)}


class _Plate:
    def __init__(self, w: int, h: int, time: str, rng: np.random.Generator):
        self.W, self.H, self.time, self.rng = w * SS, h * SS, time, rng
        self.img = Image.new("RGB", (self.W, self.H))
        self.d = ImageDraw.Draw(self.img)
        self.gain = TIME_GAIN[time]

    def t(self, c: RGB) -> RGB:
        """A ground colour under this time of day's light."""
        return tuple(int(min(255, v * g)) for v, g in zip(c, self.gain, strict=True))  # type: ignore[return-value]

    def u(self, lo: float, hi: float) -> float:
        """Uniform in [lo, hi]; on tiny canvases fixed pixel margins can cross, then the midpoint."""
        if hi < lo:
            return (lo + hi) / 2
        return float(self.rng.uniform(lo, hi))

    def gradient(self, y0: int, y1: int, top: RGB, bottom: RGB) -> None:
        n = max(1, y1 - y0)
        ramp = np.linspace(0.0, 1.0, n)[:, None]
        rows = (np.array(top) * (1 - ramp) + np.array(bottom) * ramp).astype(np.uint8)  # (n, 3)
        column = Image.fromarray(np.ascontiguousarray(rows[:, None, :]))  # (n, 1, 3) → 1 px wide
        self.img.paste(column.resize((self.W, n), Image.Resampling.NEAREST), (0, y0))

    def sky(self, horizon: int) -> None:
        top, bottom = _SKY[self.time]
        self.gradient(0, horizon, top, bottom)
        W = self.W
        if self.time == "night":
            n = int(self.rng.integers(25, 60))
            xs, ys = self.rng.uniform(0, W, n), self.rng.uniform(0, horizon * 0.9, n)
            for x, y in zip(xs, ys, strict=True):
                r = self.u(1.0, 2.4) * SS / 2
                self.d.ellipse((x - r, y - r, x + r, y + r), fill=(250, 250, 220))
            mx, my, mr = self.u(0.1, 0.9) * W, self.u(0.08, 0.3) * horizon, self.u(0.035, 0.06) * W
            self.d.ellipse((mx - mr, my - mr, mx + mr, my + mr), fill=(245, 240, 210))
        elif self.time == "sunset":
            sx, sr = self.u(0.15, 0.85) * W, self.u(0.06, 0.1) * W
            self.d.ellipse((sx - sr, horizon - sr * 0.8, sx + sr, horizon + sr * 1.2), fill=(255, 170, 70))
        else:
            sx, sy, sr = self.u(0.1, 0.9) * W, self.u(0.1, 0.3) * horizon, self.u(0.04, 0.06) * W
            self.d.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=(255, 240, 150))
            for _ in range(int(self.rng.integers(1, 4))):
                cx, cy, cw = self.u(0, 1) * W, self.u(0.15, 0.6) * horizon, self.u(0.08, 0.16) * W
                for k in range(4):
                    ox, r = (k - 1.5) * cw * 0.4, cw * (0.35 if k in (1, 2) else 0.25)
                    self.d.ellipse(
                        (cx + ox - r, cy - r * 0.8, cx + ox + r, cy + r * 0.6), fill=(248, 248, 252)
                    )

    def tree(self, x: float, base: float, size: float, crown: RGB, kind: str = "round") -> None:
        trunk = self.t((96, 64, 36))
        self.d.rectangle((x - size * 0.08, base - size * 0.5, x + size * 0.08, base), fill=trunk)
        if kind == "pine":
            for k in range(3):
                y = base - size * (0.3 + 0.28 * k)
                wdt = size * (0.45 - 0.1 * k)
                self.d.polygon([(x - wdt, y), (x + wdt, y), (x, y - size * 0.45)], fill=self.t(crown))
        else:
            r = size * 0.38
            self.d.ellipse(
                (x - r, base - size * 0.5 - r * 1.5, x + r, base - size * 0.5 + r * 0.4), fill=self.t(crown)
            )

    def finish(self) -> np.ndarray:
        return np.asarray(self.img.reduce(SS))


def _beach(p: _Plate) -> None:
    hz = int(p.H * p.u(0.4, 0.5))
    p.sky(hz)
    sea_end = int(hz + p.H * p.u(0.08, 0.14))
    p.gradient(hz, sea_end, p.t((30, 110, 170)), p.t((60, 160, 200)))
    p.gradient(sea_end, p.H, p.t((236, 212, 160)), p.t((220, 190, 130)))
    for _ in range(3):
        y = p.u(hz + 4, sea_end - 4)
        p.d.line((0, y, p.W, y + p.u(-3, 3)), fill=p.t((210, 235, 245)), width=SS)
    for _ in range(int(p.rng.integers(1, 3))):
        x, base, size = p.u(0, 1) * p.W, p.u(sea_end, p.H * 0.75), p.u(0.25, 0.4) * p.H
        p.d.line((x, base, x + size * 0.15, base - size), fill=p.t((120, 84, 50)), width=int(size * 0.06))
        tx, ty = x + size * 0.15, base - size
        for ang in np.linspace(0.2, np.pi - 0.2, 5):
            p.d.line(
                (tx, ty, tx + np.cos(ang) * size * 0.4, ty + size * 0.1 - np.sin(ang) * size * 0.12),
                fill=p.t((40, 140, 60)),
                width=int(size * 0.05),
            )
    ux = p.u(0, 1) * p.W
    col = list(GARMENT.values())[int(p.rng.integers(len(GARMENT)))]
    p.d.pieslice(
        (ux - 0.12 * p.W, sea_end + 0.02 * p.H, ux + 0.12 * p.W, sea_end + 0.2 * p.H), 180, 360, fill=p.t(col)
    )


def _snow(p: _Plate) -> None:
    hz = int(p.H * p.u(0.45, 0.55))
    p.sky(hz)
    for _ in range(3):
        x, wdt, hgt = p.u(-0.1, 1.1) * p.W, p.u(0.2, 0.45) * p.W, p.u(0.15, 0.3) * p.H
        p.d.polygon([(x - wdt, hz), (x + wdt, hz), (x, hz - hgt)], fill=p.t((150, 160, 185)))
        p.d.polygon(
            [(x - wdt * 0.3, hz - hgt * 0.7), (x + wdt * 0.3, hz - hgt * 0.7), (x, hz - hgt)],
            fill=p.t((245, 248, 255)),
        )
    p.gradient(hz, p.H, p.t((225, 232, 245)), p.t((250, 252, 255)))
    for _ in range(int(p.rng.integers(2, 6))):
        p.tree(p.u(0, 1) * p.W, hz + p.u(0, 0.08) * p.H, p.u(0.12, 0.25) * p.H, (30, 90, 60), "pine")
    for _ in range(40):
        x, y, r = p.u(0, p.W), p.u(0, p.H), p.u(0.6, 1.6) * SS
        p.d.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255))


def _forest(p: _Plate) -> None:
    hz = int(p.H * p.u(0.3, 0.42))
    p.sky(hz)
    p.gradient(hz, p.H, p.t((60, 110, 50)), p.t((90, 140, 60)))
    for _ in range(int(p.rng.integers(10, 18))):
        x, size = p.u(-0.05, 1.05) * p.W, p.u(0.3, 0.6) * p.H
        crown = ((30, 90, 40), (50, 120, 50), (40, 100, 70))[int(p.rng.integers(3))]
        p.tree(x, hz + p.u(0.0, 0.12) * p.H, size, crown, "pine" if p.rng.random() < 0.5 else "round")
    for _ in range(6):
        x, y = p.u(0, p.W), p.u(hz + 0.2 * p.H, p.H)
        p.d.ellipse(
            (x - 6, y - 4, x + 6, y + 4), fill=p.t((200, 60, 60) if p.rng.random() < 0.5 else (240, 220, 90))
        )


def _city(p: _Plate) -> None:
    hz = int(p.H * p.u(0.55, 0.62))
    p.sky(hz)
    x = -p.u(0, 0.1) * p.W
    lit = p.time != "day"
    while x < p.W:
        bw, bh = p.u(0.12, 0.24) * p.W, p.u(0.25, 0.5) * p.H
        base = ((150, 140, 130), (110, 120, 140), (170, 120, 100), (200, 190, 170), (90, 90, 100))
        col = base[int(p.rng.integers(len(base)))]
        p.d.rectangle((x, hz - bh, x + bw, hz), fill=p.t(col))
        ww = bw / 7
        for wy in np.arange(hz - bh + ww, hz - ww, ww * 1.8):
            for wx in np.arange(x + ww * 0.8, x + bw - ww, ww * 1.7):
                on = lit and p.rng.random() < 0.5
                p.d.rectangle(
                    (wx, wy, wx + ww, wy + ww * 1.1), fill=(250, 220, 120) if on else p.t((60, 80, 110))
                )
        x += bw + p.u(0, 0.03) * p.W
    p.d.rectangle((0, hz, p.W, hz + 0.12 * p.H), fill=p.t((170, 170, 165)))
    p.gradient(int(hz + 0.12 * p.H), p.H, p.t((70, 70, 75)), p.t((90, 90, 95)))
    y = hz + 0.12 * p.H + (p.H - hz - 0.12 * p.H) * 0.5
    for x0 in np.arange(0, p.W, 0.12 * p.W):
        p.d.rectangle((x0, y - SS, x0 + 0.06 * p.W, y + SS), fill=p.t((240, 230, 200)))
    lx = p.u(0.05, 0.95) * p.W
    p.d.rectangle((lx - SS, hz - 0.3 * p.H, lx + SS, hz + 0.1 * p.H), fill=p.t((40, 40, 44)))
    p.d.ellipse(
        (lx - 4 * SS, hz - 0.32 * p.H, lx + 4 * SS, hz - 0.28 * p.H),
        fill=(255, 230, 150) if lit else p.t((220, 220, 200)),
    )


def _park(p: _Plate) -> None:
    hz = int(p.H * p.u(0.4, 0.5))
    p.sky(hz)
    p.gradient(hz, p.H, p.t((90, 160, 70)), p.t((110, 180, 80)))
    px = p.u(0.2, 0.8) * p.W
    p.d.polygon(
        [(px - 0.03 * p.W, hz), (px + 0.03 * p.W, hz), (px + 0.3 * p.W, p.H), (px - 0.3 * p.W, p.H)],
        fill=p.t((210, 190, 150)),
    )
    for _ in range(int(p.rng.integers(2, 6))):
        p.tree(p.u(0, 1) * p.W, hz + p.u(0.0, 0.06) * p.H, p.u(0.25, 0.45) * p.H, (50, 130, 50))
    bx, by = p.u(0.05, 0.75) * p.W, hz + p.u(0.05, 0.12) * p.H
    p.d.rectangle((bx, by, bx + 0.2 * p.W, by + 0.02 * p.H), fill=p.t((130, 80, 40)))
    p.d.rectangle((bx, by - 0.04 * p.H, bx + 0.2 * p.W, by - 0.025 * p.H), fill=p.t((130, 80, 40)))
    for _ in range(12):
        x, y = p.u(0, p.W), p.u(hz, p.H)
        p.d.ellipse(
            (x - 3, y - 3, x + 3, y + 3),
            fill=p.t((250, 250, 120) if p.rng.random() < 0.5 else (240, 120, 160)),
        )


def _desert(p: _Plate) -> None:
    hz = int(p.H * p.u(0.45, 0.55))
    p.sky(hz)
    p.gradient(hz, p.H, p.t((220, 170, 100)), p.t((235, 195, 130)))
    for _ in range(4):
        x, w, h = p.u(-0.1, 1.1) * p.W, p.u(0.3, 0.6) * p.W, p.u(0.05, 0.12) * p.H
        p.d.chord((x - w, hz - h, x + w, hz + h), 180, 360, fill=p.t((205, 150, 90)))
    for _ in range(int(p.rng.integers(1, 4))):
        x, base, s = p.u(0, 1) * p.W, hz + p.u(0.02, 0.15) * p.H, p.u(0.12, 0.25) * p.H
        g = p.t((60, 130, 70))
        p.d.rounded_rectangle((x - s * 0.1, base - s, x + s * 0.1, base), int(s * 0.1), fill=g)
        p.d.rounded_rectangle(
            (x - s * 0.35, base - s * 0.7, x - s * 0.2, base - s * 0.35), int(s * 0.07), fill=g
        )
        p.d.rectangle((x - s * 0.35, base - s * 0.45, x, base - s * 0.35), fill=g)
    for _ in range(3):
        x, y, r = p.u(0, p.W), p.u(hz + 0.1 * p.H, p.H), p.u(0.01, 0.03) * p.W
        p.d.ellipse((x - r, y - r * 0.6, x + r, y + r * 0.6), fill=p.t((140, 110, 90)))


def _studio(p: _Plate) -> None:
    cols = list(GARMENT.values())
    wall = cols[int(p.rng.integers(len(cols)))]
    soft = tuple(int(v * 0.5 + 110) for v in wall)
    floor = int(p.H * p.u(0.6, 0.7))
    p.gradient(0, floor, p.t(tuple(min(255, v + 30) for v in soft)), p.t(soft))
    p.gradient(floor, p.H, p.t(tuple(int(v * 0.85) for v in soft)), p.t(tuple(int(v * 0.7) for v in soft)))
    for sx in (p.u(0.05, 0.2), p.u(0.8, 0.95)):
        x = sx * p.W
        p.d.line((x, floor, x, floor - 0.45 * p.H), fill=p.t((40, 40, 40)), width=SS * 2)
        p.d.rectangle(
            (x - 0.04 * p.W, floor - 0.5 * p.H, x + 0.04 * p.W, floor - 0.43 * p.H), fill=p.t((235, 235, 230))
        )


def _night_sky(p: _Plate) -> None:
    hz = int(p.H * p.u(0.55, 0.65))
    p.sky(hz)
    n = int(p.rng.integers(4, 8))
    xs = np.linspace(0, p.W, n)
    ys = hz - p.rng.uniform(0.02, 0.12, n) * p.H
    p.d.polygon([(0, p.H), *zip(xs.tolist(), ys.tolist(), strict=True), (p.W, p.H)], fill=p.t((40, 60, 50)))
    p.gradient(hz, p.H, p.t((40, 60, 50)), p.t((55, 80, 60)))
    if p.time == "night":
        for _ in range(60):
            x, y = p.u(0, p.W), p.u(0, hz * 0.8)
            r = p.u(0.5, 1.2) * SS
            p.d.ellipse((x - r, y - r, x + r, y + r), fill=(230, 230, 255))


_DRAW = {
    "beach": _beach,
    "snow": _snow,
    "forest": _forest,
    "city street": _city,
    "park": _park,
    "desert": _desert,
    "studio": _studio,
    "night sky": _night_sky,
}


@lru_cache(maxsize=256)
def background(kind: str, time: str, seed: int, width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8 plate; read-only (shared by the cache)."""
    if kind not in _DRAW or time not in TIMES:
        raise ValueError(f"unknown background {kind!r} / time of day {time!r}")
    p = _Plate(width, height, time, np.random.default_rng([seed, KINDS.index(kind), TIMES.index(time)]))
    _DRAW[kind](p)
    out = p.finish()
    out.setflags(write=False)
    return out
