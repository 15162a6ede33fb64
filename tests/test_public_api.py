"""The public API is an explicit list, and this test holds it steady (style guide §14).

For every public module: each name in ``__all__`` exists, and ``__all__`` is sorted the
way ruff's RUF022 sorts it (SCREAMING_SNAKE_CASE, then CamelCase, then the rest, each
in natural order) without duplicates. The snapshots of ``accord.types`` and
``accord.errors`` make API changes deliberate: update them in the same change.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from types import ModuleType

import pytest

import accord.protocol

CORE_MODULES = [
    "accord",
    "accord.types",
    "accord.errors",
    "accord.protocol",
    *(
        f"accord.protocol.{m.name}"
        for m in pkgutil.iter_modules(accord.protocol.__path__)
        if not m.name.startswith("_")
    ),
]
#: Packages other engineers are building; checked once they exist.
LATER_MODULES = ["accord.bindings", "accord.server", "accord.client", "accord.stores"]

TYPES_ALL = [
    "MAX_JSON_DEPTH",
    "UNSET",
    "APIKeySecurityScheme",
    "AgentCapabilities",
    "AgentCard",
    "AgentCardSignature",
    "AgentExtension",
    "AgentInterface",
    "AgentProvider",
    "AgentSkill",
    "Artifact",
    "AuthenticationInfo",
    "AuthorizationCodeOAuthFlow",
    "CancelTaskRequest",
    "ClientCredentialsOAuthFlow",
    "DeleteTaskPushNotificationConfigRequest",
    "DeviceCodeOAuthFlow",
    "Empty",
    "GetExtendedAgentCardRequest",
    "GetTaskPushNotificationConfigRequest",
    "GetTaskRequest",
    "HTTPAuthSecurityScheme",
    "ImplicitOAuthFlow",
    "JsonRpcEnvelope",
    "ListTaskPushNotificationConfigsRequest",
    "ListTaskPushNotificationConfigsResponse",
    "ListTasksRequest",
    "ListTasksResponse",
    "Message",
    "MessageContent",
    "MutualTlsSecurityScheme",
    "OAuth2SecurityScheme",
    "OAuthFlows",
    "OpenIdConnectSecurityScheme",
    "Part",
    "PasswordOAuthFlow",
    "Readable",
    "Role",
    "SecurityRequirement",
    "SecurityScheme",
    "SendMessageConfiguration",
    "SendMessageRequest",
    "SendMessageResponse",
    "StreamResponse",
    "StringList",
    "SubscribeToTaskRequest",
    "Task",
    "TaskArtifactUpdateEvent",
    "TaskPushNotificationConfig",
    "TaskState",
    "TaskStatus",
    "TaskStatusUpdateEvent",
    "Timestamp",
    "convert",
    "data_of",
    "data_part",
    "decode",
    "decode_json",
    "encode",
    "file_part",
    "files_of",
    "find_artifact",
    "format_timestamp",
    "normalize_timestamp",
    "parse_timestamp",
    "replace",
    "split_jsonrpc",
    "text_of",
    "to_builtins",
    "user_message",
]

ERRORS_ALL = [
    "A2AError",
    "AlgorithmError",
    "CardError",
    "ConflictError",
    "ConnectError",
    "ContentTypeNotSupportedError",
    "ExtendedAgentCardNotConfiguredError",
    "ExtensionSupportRequiredError",
    "HTTPStatusError",
    "IncompleteStreamError",
    "InternalError",
    "InvalidAgentResponseError",
    "InvalidParamsError",
    "InvalidRequestError",
    "KeyExpiredError",
    "MethodNotFoundError",
    "ParseError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProtocolError",
    "PushNotificationNotSupportedError",
    "SecurityError",
    "SignatureError",
    "StoreError",
    "TaskNotCancelableError",
    "TaskNotFoundError",
    "TimeoutError",
    "TokenError",
    "TransportError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnknownKeyError",
    "UnsupportedOperationError",
    "VersionNotSupportedError",
]


def sort_key(name: str) -> tuple[int, list[int | str]]:
    """ruff RUF022's isort-style order."""
    if name.upper() == name:
        category = 0  # SCREAMING_SNAKE_CASE
    elif name[:1].isupper():
        category = 1  # CamelCase
    else:
        category = 2
    natural = [int(c) if c.isdigit() else c for c in re.split(r"(\d+)", name)]
    return category, natural


def _module(name: str) -> ModuleType:
    if name in LATER_MODULES:
        module: ModuleType = pytest.importorskip(name)
        return module
    return importlib.import_module(name)


@pytest.mark.parametrize("name", CORE_MODULES + LATER_MODULES)
def test_all_names_exist(name: str) -> None:
    module = _module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []


@pytest.mark.parametrize("name", CORE_MODULES + LATER_MODULES)
def test_all_is_sorted_and_unique(name: str) -> None:
    exported = list(_module(name).__all__)
    assert len(set(exported)) == len(exported), "duplicates in __all__"
    assert exported == sorted(exported, key=sort_key)


def test_types_snapshot() -> None:
    import accord.types

    assert accord.types.__all__ == TYPES_ALL


def test_errors_snapshot() -> None:
    import accord.errors

    assert accord.errors.__all__ == ERRORS_ALL


def test_every_error_is_exported() -> None:
    import accord.errors

    classes = {
        name
        for name, obj in vars(accord.errors).items()
        if isinstance(obj, type)
        and issubclass(obj, accord.errors.A2AError)
        and obj.__module__ == "accord.errors"
    }
    assert classes == set(accord.errors.__all__)


def test_version() -> None:
    assert isinstance(accord.__version__, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", accord.__version__)


HEAVY = ("accord.server", "accord.cli", "accord.stores")
ABOVE_PROTOCOL = (*HEAVY, "accord.bindings", "accord.client")


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("accord", HEAVY),
        ("accord.types", ABOVE_PROTOCOL),
        ("accord.errors", ABOVE_PROTOCOL),
        ("accord.protocol", ABOVE_PROTOCOL),
    ],
)
def test_import_stays_light(module: str, forbidden: tuple[str, ...]) -> None:
    # A fresh interpreter: this process has imported everything already.
    code = (
        "import sys, importlib\n"
        f"importlib.import_module({module!r})\n"
        f"bad = {forbidden!r}\n"
        "print(sorted(m for m in sys.modules if m.partition('.')[0] == 'accord'\n"
        "    and any(m == b or m.startswith(b + '.') for b in bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
