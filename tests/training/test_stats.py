import pytest

from training.stats import exact_mcnemar, mean_interval, paired_bootstrap, wilson_interval


def test_it_finds_a_consistent_gain_significant_and_noise_not():
    base = [0.1, 0.2, 0.15, 0.3, 0.05, 0.2, 0.1, 0.25, 0.2, 0.1, 0.15, 0.3]
    better = [b + 0.2 for b in base]
    result = paired_bootstrap(base, better)
    assert result.gain == pytest.approx(0.2) and result.p_value < 0.01 and result.ci_low > 0
    noise = [b + (0.05 if i % 2 else -0.05) for i, b in enumerate(base)]
    assert paired_bootstrap(base, noise).p_value > 0.3


def test_it_tests_paired_proportions_on_the_discordant_pairs_only():
    # 8 examples the new model gets right that the old did not, none the other way: p = 1/2^8.
    a = [False] * 8 + [True] * 20
    b = [True] * 8 + [True] * 20
    result = exact_mcnemar(a, b)
    assert result.p_value == pytest.approx(1 / 256) and result.gain == pytest.approx(8 / 28)
    assert exact_mcnemar(b, a).p_value == 1.0
    assert exact_mcnemar([True, False], [True, False]).p_value == 1.0  # no discordant pairs: no evidence


def test_it_refuses_unpaired_scores():
    with pytest.raises(ValueError, match="same examples"):
        paired_bootstrap([0.1], [0.1, 0.2])


def test_it_gives_intervals_that_hold_the_estimate():
    low, high = wilson_interval(30, 50)
    assert low < 0.6 < high and 0 <= low and high <= 1
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = mean_interval([0.2, 0.4, 0.6, 0.8])
    assert 0.2 <= low < 0.5 < high <= 0.8
