"""Time in the simulation: integer microseconds since the epoch, and daily rhythms.

Events are generated with `time` as int64 µs (cheap to draw and sort) and become
`Datetime("us", "UTC")` only when a day is assembled. A rhythm is 24 hourly weights; the
bank's local time is treated as UTC.
"""

from __future__ import annotations

import numpy as np

SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def _normalised(weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


#: Card spending on a working day: quiet at night, a lunch peak and an evening peak.
CARD_WEEKDAY = _normalised(
    [
        0.5,
        0.3,
        0.15,
        0.1,
        0.1,
        0.3,
        1.2,
        2.5,
        3.5,
        3.5,
        4,
        5,
        8,
        7.5,
        5,
        4.5,
        5,
        6,
        7,
        6.5,
        5,
        3.5,
        2,
        1,
    ]
)
#: Card spending at the weekend: a late start and a long afternoon.
CARD_WEEKEND = _normalised(
    [
        0.8,
        0.5,
        0.25,
        0.1,
        0.1,
        0.15,
        0.4,
        1,
        2,
        3.5,
        5,
        6.5,
        8,
        8,
        7.5,
        7,
        6.5,
        6.5,
        7,
        6.5,
        5,
        3.5,
        2.2,
        1.3,
    ]
)
#: Online and mobile banking logins: commute, lunch and a strong evening peak.
LOGIN = _normalised(
    [
        0.8,
        0.4,
        0.2,
        0.15,
        0.2,
        0.5,
        1.5,
        3.5,
        4,
        3.5,
        3.5,
        3.5,
        5,
        4.5,
        3.5,
        3.5,
        3.5,
        4,
        4.5,
        5,
        5.5,
        5.5,
        4,
        2,
    ]
)
#: Office work on a working day, with a lunch dip; a little overtime.
OFFICE = _normalised(
    [
        0.01,
        0.01,
        0.01,
        0.01,
        0.01,
        0.02,
        0.1,
        1.5,
        6,
        8,
        8,
        7.5,
        4,
        7,
        8,
        7.5,
        7,
        5,
        2,
        0.6,
        0.25,
        0.1,
        0.05,
        0.02,
    ]
)
#: Teller opening hours (09:00-15:00 branch hours, then back-office until about 17:00).
BRANCH = _normalised([0] * 9 + [7, 8, 8, 5, 7, 8, 4, 1.5] + [0] * 7)
#: Machine-to-machine traffic: steady, somewhat busier in the day.
SERVER = _normalised(
    [
        3,
        2.6,
        2.4,
        2.3,
        2.3,
        2.5,
        3,
        4,
        5,
        5.5,
        5.5,
        5.5,
        5.5,
        5.5,
        5.5,
        5.5,
        5.5,
        5,
        4.5,
        4.2,
        4,
        3.8,
        3.5,
        3.2,
    ]
)
#: Business-hours payments (SWIFT and similar): 08:00-17:00.
BUSINESS = _normalised([0] * 8 + [2, 4, 5, 5, 3, 4, 5, 4, 2] + [0] * 7)
#: The nightly backup window, 01:00-04:00.
BACKUP = _normalised([0, 4, 5, 4, 1] + [0] * 19)


def sample_times(
    rng: np.random.Generator, day_start: int, n: int, rhythm: np.ndarray
) -> np.ndarray:
    """`n` times (int64 µs) within one day, drawn hour by hour from a 24-weight rhythm."""
    hours = rng.choice(24, size=n, p=rhythm)
    return day_start + hours.astype(np.int64) * HOUR + rng.integers(0, HOUR, size=n)
