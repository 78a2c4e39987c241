"""IKM / SKM survey scores and grades, PermenPAN-RB No. 14 Tahun 2017 (DOMAIN.md 3.1).

Nine elements rated 1-4; ``IKM = 25 * sum(mean_i / 9)`` on the 25-100 scale. Grades use the
regulation's converted bands: D 25.00-64.99, C 65.00-76.60, B 76.61-88.30, A 88.31-100,
applied to the value rounded (half up) to two decimals, as the table publishes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

ELEMENTS: tuple[str, ...] = (
    "persyaratan", "sistem_mekanisme_prosedur", "waktu_penyelesaian", "biaya_tarif",
    "produk_spesifikasi_layanan", "kompetensi_pelaksana", "perilaku_pelaksana",
    "penanganan_pengaduan", "sarana_prasarana",
)
"""The nine survey elements, in the regulation's order."""

GRADE_BANDS: tuple[tuple[str, str, str], ...] = (
    ("A", "88.31", "Sangat baik"),
    ("B", "76.61", "Baik"),
    ("C", "65.00", "Kurang baik"),
    ("D", "25.00", "Tidak baik"),
)
"""(grade, lowest converted value, performance label), best first."""


def grade(value: float) -> str:
    """The IKM grade A-D of a value on the 25-100 scale.

    >>> grade(88.31), grade(88.30), grade(76.61), grade(76.60), grade(65.0), grade(64.99)
    ('A', 'B', 'B', 'C', 'C', 'D')
    """
    published = Decimal(repr(float(value))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    for letter, lowest, _label in GRADE_BANDS:
        if published >= Decimal(lowest):
            return letter
    return "D"


def grade_label(letter: str) -> str:
    """The performance label of a grade (``"Sangat baik"`` for A)."""
    return {g: label for g, _low, label in GRADE_BANDS}[letter]


def element_means(responses: Sequence[Sequence[int]]) -> list[float]:
    """The mean rating of each of the nine elements over ``responses`` (one row each).

    Raises
    ------
    ValueError
        No responses, a row without nine ratings, or a rating outside 1-4.
    """
    if not responses:
        raise ValueError("an IKM survey needs at least one response")
    for i, row in enumerate(responses):
        if len(row) != len(ELEMENTS):
            raise ValueError(f"response {i}: {len(row)} ratings, the survey has 9 elements")
        for r in row:
            if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= 4:
                raise ValueError(f"response {i}: rating {r!r} is not an integer 1-4")
    n = len(responses)
    return [sum(row[e] for row in responses) / n for e in range(len(ELEMENTS))]


def ikm_from_means(means: Sequence[float]) -> float:
    """IKM on 25-100 from the nine element means: ``25 * sum(mean_i * 1/9)``."""
    if len(means) != len(ELEMENTS) or not all(1.0 <= m <= 4.0 for m in means):
        raise ValueError("IKM needs nine element means, each in [1, 4]")
    return 25.0 * sum(m / len(ELEMENTS) for m in means)


def ikm_score(responses: Sequence[Sequence[int]]) -> float:
    """IKM on 25-100 from raw survey responses (nine ratings 1-4 per respondent)."""
    return ikm_from_means(element_means(responses))
