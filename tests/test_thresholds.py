"""Every shipped threshold is its profile's rule applied to the accuracies stored beside it:
none is set by hand (calibrate.py's docstring states the rules)."""
from __future__ import annotations

import json

import pytest

from autograder.calibrate import RULES, threshold
from autograder.training_profiles import THRESHOLDS_FILE, load_profile, profile_names, threshold_rule


def test_the_rules_on_known_accuracies() -> None:
    accuracies = [0.30, 0.28, 0.26]  # mean 0.28, std 0.02
    assert threshold(accuracies, "spread") == pytest.approx(0.22)  # mean - 3 std beats lowest - 0.02
    assert threshold([0.5, 0.5], "spread") == pytest.approx(0.48)  # no spread: lowest - 0.02
    assert threshold(accuracies, "learning") == pytest.approx(0.18)  # halfway from 0.1 to 0.26


@pytest.mark.parametrize("budget", profile_names())
def test_every_threshold_follows_its_profiles_rule(budget: str) -> None:
    rule = threshold_rule(budget)
    assert rule in RULES
    calibrated = json.loads(THRESHOLDS_FILE.read_text()).get(budget, {})
    assert set(calibrated) == set(load_profile(budget)[0]), f"{budget}: calibrate every check of the profile"
    for name, entry in calibrated.items():
        assert entry["rule"] == RULES[rule], f"{budget} {name} was calibrated under another rule"
        assert entry["threshold"] == round(threshold(entry["accuracies"], rule), 3), (
            f"{budget} {name}: the threshold is not the rule applied to its accuracies")
