"""ForwardedAllowList: the verdict per peer address, remembered within a bound."""

from __future__ import annotations

from accord.server.proxy import ForwardedAllowList


def test_verdicts_are_right_and_remembered_within_the_bound() -> None:
    allow = ForwardedAllowList("10.0.0.0/8,::1")
    for round_ in range(2):  # the second round answers from memory
        assert allow.trusts(("10.1.2.3", 5000)), round_
        assert allow.trusts(("::1", 5000)), round_
        assert not allow.trusts(("192.0.2.1", 5000)), round_
        assert not allow.trusts(("not-an-address", 5000)), round_
    assert not allow.trusts(None)
    # Many distinct peers never grow the memory past its bound, and stay correct.
    for n in range(3 * ForwardedAllowList.MEMORY):
        peer = f"10.{n // 65536}.{n // 256 % 256}.{n % 256}"
        assert allow.trusts((peer, 1))
        assert not allow.trusts((f"203.0.113.{n % 256}", 1))
        assert len(allow._known) <= ForwardedAllowList.MEMORY
