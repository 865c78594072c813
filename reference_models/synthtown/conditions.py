"""Appearance conditions: time of day, weather, season and moving clutter.

A :class:`Condition` changes how the town looks, never where anything static is. Database
images are drawn under :data:`DATABASE_CONDITION`; queries under others, as in real
benchmarks (day versus night, summer versus winter, clear versus fog).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DATABASE_CONDITION",
    "SEASONS",
    "TIMES",
    "WEATHERS",
    "Condition",
    "Lighting",
    "lighting",
    "sample_query_condition",
]

TIMES: tuple[str, ...] = ("day", "dusk", "night")
WEATHERS: tuple[str, ...] = ("clear", "overcast", "fog")
SEASONS: tuple[str, ...] = ("summer", "autumn", "winter")


@dataclass(frozen=True)
class Condition:
    """One appearance condition.

    ``clutter`` seeds the moving objects (which parking slots hold a car and its colour,
    where pedestrians stand); two images with the same clutter seed show the same cars.
    """

    time: str = "day"
    weather: str = "clear"
    season: str = "summer"
    clutter: int = 0

    def __post_init__(self) -> None:
        for value, allowed, what in (
            (self.time, TIMES, "time"),
            (self.weather, WEATHERS, "weather"),
            (self.season, SEASONS, "season"),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r}; expected one of {allowed}")

    @property
    def name(self) -> str:
        """``time-weather-season``, e.g. ``night-fog-winter`` (the file-name note field)."""
        return f"{self.time}-{self.weather}-{self.season}"


DATABASE_CONDITION = Condition("day", "clear", "summer", clutter=0)


@dataclass(frozen=True)
class Lighting:
    """Numbers the renderers read for one condition (linear RGB in [0, 1])."""

    light: np.ndarray  # multiplies albedo
    sky_top: np.ndarray
    sky_horizon: np.ndarray
    sun_contrast: float  # brightness difference between sunlit and shaded facades
    sun_dir: tuple[float, float]  # unit vector (east, north) pointing towards the sun
    lit_windows: float  # share of windows lit from inside
    haze_m: float  # distance at which the scene is half blended into the haze colour
    haze: np.ndarray
    foliage: np.ndarray  # (k, 3) foliage colours to pick from
    grass: np.ndarray
    bare_trees: bool
    snow: bool
    noise: float  # sensor noise amplitude
    pedestrians: float  # share of pedestrian slots occupied
    cars: float  # share of parking slots occupied
    lamps: bool


def _c(*rgb: float) -> np.ndarray:
    return np.array(rgb, dtype=np.float32)


def lighting(cond: Condition) -> Lighting:
    """The lighting and palette numbers for ``cond``."""
    if cond.time == "day":
        light, top, hor = _c(1.0, 1.0, 0.98), _c(0.3, 0.5, 0.85), _c(0.72, 0.82, 0.95)
        contrast, lit = 0.35, 0.0
        sun = (-0.6, -0.8)  # from the south-west in the afternoon
    elif cond.time == "dusk":
        light, top, hor = _c(0.72, 0.5, 0.42), _c(0.2, 0.17, 0.4), _c(0.98, 0.55, 0.3)
        contrast, lit = 0.25, 0.3
        sun = (-0.97, -0.24)
    else:
        light, top, hor = _c(0.09, 0.1, 0.15), _c(0.01, 0.012, 0.04), _c(0.05, 0.05, 0.1)
        contrast, lit = 0.0, 0.45
        sun = (0.0, -1.0)
    haze_m, haze, noise = 700.0, hor.copy(), 0.01
    if cond.weather == "overcast":
        grey = _c(0.62, 0.64, 0.68) * light
        top, hor = grey * 0.85, grey
        light = light * np.float32(0.78)
        contrast, haze_m, haze = contrast * 0.15, 250.0, grey
    elif cond.weather == "fog":
        fog = _c(0.78, 0.8, 0.82) * np.float32(min(1.0, float(light.max()) * 1.05))
        top = hor = haze = fog
        light = light * np.float32(0.85)
        contrast, haze_m = contrast * 0.1, 40.0
    if cond.time == "night":
        noise = 0.035
        haze = haze * np.float32(0.6) if cond.weather != "fog" else haze
    if cond.season == "summer":
        foliage = np.array([[0.22, 0.42, 0.14], [0.18, 0.36, 0.12], [0.3, 0.48, 0.18]], np.float32)
        grass = _c(0.3, 0.5, 0.2)
    elif cond.season == "autumn":
        foliage = np.array(
            [[0.75, 0.4, 0.1], [0.65, 0.2, 0.08], [0.8, 0.65, 0.15], [0.45, 0.35, 0.12]], np.float32
        )
        grass = _c(0.5, 0.48, 0.22)
    else:
        foliage = np.array([[0.33, 0.27, 0.22], [0.28, 0.24, 0.2]], np.float32)
        grass = _c(0.88, 0.9, 0.94)
    return Lighting(
        light=light,
        sky_top=top,
        sky_horizon=hor,
        sun_contrast=contrast,
        sun_dir=sun,
        lit_windows=lit,
        haze_m=haze_m,
        haze=haze,
        foliage=foliage,
        grass=grass,
        bare_trees=cond.season == "winter",
        snow=cond.season == "winter",
        noise=noise,
        pedestrians=0.05 if cond.time == "night" else 0.25,
        cars=0.25,
        lamps=cond.time != "day",
    )


def sample_query_condition(rng: np.random.Generator, clutter: int) -> Condition:
    """A query condition: at least one of time, weather, season differs from the database.

    Draw probabilities: time day/dusk/night 0.5/0.3/0.2, weather clear/overcast/fog
    0.45/0.35/0.2, season summer/autumn/winter 0.4/0.3/0.3. Draws equal to the database
    condition are redrawn. Uses ``rng.random`` only (stable across numpy versions).
    """

    def pick(options: tuple[str, ...], probs: tuple[float, ...]) -> str:
        u = rng.random()
        acc = 0.0
        for option, p in zip(options, probs, strict=True):
            acc += p
            if u < acc:
                return option
        return options[-1]

    while True:
        cond = Condition(
            pick(TIMES, (0.5, 0.3, 0.2)),
            pick(WEATHERS, (0.45, 0.35, 0.2)),
            pick(SEASONS, (0.4, 0.3, 0.3)),
            clutter=clutter,
        )
        if cond.name != DATABASE_CONDITION.name:
            return cond
