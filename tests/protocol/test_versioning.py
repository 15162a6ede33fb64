"""A2A-Version negotiation (spec §3.6)."""

from __future__ import annotations

import pytest

from accord.errors import VersionNotSupportedError
from accord.protocol import versioning as v


def test_constants() -> None:
    assert v.CURRENT_VERSION == "1.0"
    assert v.DEFAULT_VERSION == "0.3"
    assert v.SUPPORTED_VERSIONS == ("1.0",)
    assert v.VERSION_HEADER == "A2A-Version"


@pytest.mark.parametrize(
    "value", ["1.0", "1.0.3", " 1.0 ", "1.0.0", "\t1.0\t", "1.0.10"]
)
def test_accepted(value: str) -> None:
    # Patch numbers are ignored in negotiation (spec §3.6).
    assert v.negotiate(value) == "1.0"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_or_empty_means_v03_and_is_refused(value: str | None) -> None:
    # Spec §3.6.2: no header means 0.3, which a 1.0-only interface does not serve.
    assert v.normalize_version(value) == "0.3"
    with pytest.raises(VersionNotSupportedError) as info:
        v.negotiate(value)
    error = info.value
    assert "0.3" in error.message
    assert "1.0" in error.message  # the supported versions are listed
    assert error.metadata["supportedVersions"] == "1.0"
    assert error.metadata["requestedVersion"] == "0.3"


@pytest.mark.parametrize(
    ("value", "normalized"),
    [("2.0", "2.0"), ("0.3", "0.3"), ("1.1", "1.1"), ("0.3.0", "0.3")],
)
def test_unsupported_versions_are_refused(value: str, normalized: str) -> None:
    with pytest.raises(VersionNotSupportedError) as info:
        v.negotiate(value)
    assert info.value.metadata == {
        "supportedVersions": "1.0",
        "requestedVersion": normalized,
    }
    assert "Supported: 1.0" in info.value.message


@pytest.mark.parametrize(
    "value",
    [
        *(
            "abc",
            "1",
            "1.",
            "v1.0",
            "1.0.0.0",
            "1.x",
            "1,0",
            "1.0-rc1",
            "\u0661.\u0660",
        ),
        # Major.Minor strictly (spec §14.2.1): no leading zeros, no signs, and only
        # HTTP's optional whitespace (SP, HTAB; RFC 9110 §5.6.3) around the value.
        *("01.00", "1.00", "01.0", "+1.0", "1.0.01", "1 .0", "\n1.0", "1.0\r"),
        *("\u00a01.0", "1.0\x0b", "9" * 5000 + ".0", "1." + "0" * 9),
    ],
)
def test_malformed_versions_are_refused(value: str) -> None:
    with pytest.raises(VersionNotSupportedError) as info:
        v.negotiate(value)
    assert info.value.metadata["supportedVersions"] == "1.0"
    assert "Major.Minor" in info.value.message


def test_several_supported_versions() -> None:
    supported = ("0.3", "1.0")
    assert v.negotiate(None, supported) == "0.3"
    assert v.negotiate("0.3.0", supported) == "0.3"
    assert v.negotiate("1.0", supported) == "1.0"
    with pytest.raises(VersionNotSupportedError) as info:
        v.negotiate("2.0", supported)
    assert info.value.metadata["supportedVersions"] == "0.3,1.0"
    assert "Supported: 0.3, 1.0" in info.value.message


def test_a_huge_malformed_value_is_quoted_shortened() -> None:
    with pytest.raises(VersionNotSupportedError) as info:
        v.negotiate("9" * 5000 + ".0")
    assert len(info.value.message) < 300
    assert "\u2026" in info.value.message
