"""A failure shown to a person is one line; a long refusal keeps its advice, a huge message is cut in its middle."""

from __future__ import annotations

from dmtl_studio.core.base.errors import plain_message
from dmtl_studio.core.project.errors import ProjectError


def test_a_long_refusal_keeps_its_advice_and_a_huge_message_is_cut_in_its_middle() -> None:
    advice = "give --reject-below P instead, or train a linear probe, which keeps out-of-fold predictions"
    long = "the run was fitted on the validation items " + "x" * 560 + "; " + advice
    assert plain_message(ProjectError(long)) == long  # was cut to 500 characters, mid-advice
    huge = "start " + "y" * 5000 + " end"
    shown = plain_message(ProjectError(huge))
    assert shown.startswith("start ") and shown.endswith(" end") and " … " in shown and len(shown) <= 1000
