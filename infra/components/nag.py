"""cdk-nag acknowledgements: each one names the rule (or the single finding) and says why it does not apply.

Every acknowledgement is also recorded (construct path, rule, reason) so the tests can prove that each one
still matches a real finding: synthesizing with the context key ``nag_acknowledgements=false`` applies none of
them, and every recorded pair must then show up as a violation.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

DISABLE_CONTEXT_KEY = "nag_acknowledgements"


@dataclass(frozen=True)
class Acknowledged:
    """One recorded acknowledgement: construct path, rule or single finding, and the reason given."""

    path: str  # construct path; the acknowledgement covers this construct and everything below it
    rule: str  # "AwsSolutions-S1" or one finding, "AwsSolutions-IAM5[Resource::...]"
    reason: str


_RECORDED: list[Acknowledged] = []


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``scope`` (and everything below it), with a written reason."""
    if len(reason.strip()) < 20:
        raise ValueError(f"the acknowledgement of {rule} needs a real reason, got {reason!r}")
    _RECORDED.append(Acknowledged(scope.node.path, rule, reason))
    if str(scope.node.try_get_context(DISABLE_CONTEXT_KEY)).lower() != "false":
        Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def recorded() -> list[Acknowledged]:
    """Acknowledgements made since the last :func:`reset` (one app at a time)."""
    return list(_RECORDED)


def reset() -> None:
    """Forget the recorded acknowledgements (before building a new app)."""
    _RECORDED.clear()
