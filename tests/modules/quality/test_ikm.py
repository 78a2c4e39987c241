"""IKM (PermenPAN-RB 14/2017): the formula over nine elements and the A-D band edges."""

from __future__ import annotations

import pytest

from twin.modules.quality import ELEMENTS, element_means, grade, ikm_from_means, ikm_score
from twin.modules.quality.ikm import grade_label


@pytest.mark.parametrize(("value", "letter"), [
    (25.0, "D"), (64.99, "D"), (64.994, "D"), (64.995, "C"), (65.0, "C"), (76.6, "C"),
    (76.604, "C"), (76.605, "B"), (76.61, "B"), (88.3, "B"), (88.304, "B"), (88.31, "A"),
    (100.0, "A"),
])
def test_grade_band_edges(value: float, letter: str) -> None:
    """The converted bands D <65.00, C 65.00-76.60, B 76.61-88.30, A >=88.31, applied to the
    value as published (two decimals, half up), so the gaps between bands are closed."""
    assert grade(value) == letter


def test_unit_value_edges_map_onto_the_same_grades() -> None:
    """The regulation's unit-value edges (1-4 scale) times 25 land in the same bands."""
    assert [grade(25 * u) for u in (2.5996, 2.60, 3.064, 3.0644, 3.532, 3.5324)] == \
        ["D", "C", "C", "B", "B", "A"]
    assert grade_label("A") == "Sangat baik" and grade_label("D") == "Tidak baik"


def test_ikm_is_25_times_the_mean_of_element_means() -> None:
    responses = [[4, 3, 3, 4, 2, 3, 4, 4, 3], [3, 3, 2, 4, 3, 3, 4, 3, 3]]
    means = element_means(responses)
    assert means == [3.5, 3.0, 2.5, 4.0, 2.5, 3.0, 4.0, 3.5, 3.0]
    assert ikm_score(responses) == pytest.approx(25 * sum(means) / 9) == pytest.approx(80.5555, abs=1e-4)
    assert grade(ikm_score(responses)) == "B"
    assert ikm_from_means([4.0] * 9) == 100.0 and ikm_from_means([1.0] * 9) == 25.0
    assert len(ELEMENTS) == 9


@pytest.mark.parametrize("bad", [[], [[4] * 8], [[5] + [4] * 8], [[0] + [4] * 8], [[True] * 9],
                                 [[3.5] + [4] * 8]])
def test_bad_survey_input_is_refused(bad) -> None:
    with pytest.raises(ValueError):
        ikm_score(bad)
