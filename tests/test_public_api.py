"""The public API is an explicit list, and this test holds it steady (style guide §14).

For every public module (no ``_`` in its dotted name): each name in ``__all__`` exists,
and ``__all__`` is sorted the way ruff's RUF022 sorts it (SCREAMING_SNAKE_CASE, then
CamelCase, then the rest, each in natural order) without duplicates. Every public
*package* has a snapshot of its ``__all__`` below, so that an API change is a
deliberate edit of this file in the same change; a new package fails
:func:`test_every_public_package_has_a_snapshot` until it gets one.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import subprocess
import sys
from types import ModuleType

import pytest

import accord
import accord.errors


def _public_modules() -> tuple[list[str], list[str]]:
    """(public modules, public packages) of accord, ``accord`` itself included."""
    modules, packages = ["accord"], ["accord"]
    for info in pkgutil.walk_packages(accord.__path__, "accord."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        modules.append(info.name)
        if info.ispkg:
            packages.append(info.name)
    return modules, packages


PUBLIC_MODULES, PUBLIC_PACKAGES = _public_modules()

#: ``__all__`` of every public package (and of accord.errors, the exception tree).
PACKAGES: dict[str, list[str]] = {
    "accord": [
        "__version__",
    ],
    "accord.bindings": [
        "details",
        "jsonrpc",
        "media",
        "rest",
    ],
    "accord.cli": [
        "main",
    ],
    "accord.cli.commands": [],
    "accord.client": [
        "ApiKey",
        "AuditSink",
        "BasicAuth",
        "BearerToken",
        "CardResolver",
        "Client",
        "ClientCertificate",
        "ClientConfig",
        "ClientTimeouts",
        "CredentialProvider",
        "Discovered",
        "EventStream",
        "JsonLinesAudit",
        "JsonRpcTransport",
        "MemoryTransport",
        "OAuth2ClientCredentials",
        "RegistryError",
        "RestTransport",
        "Transport",
        "activating",
        "data_of",
        "data_part",
        "discover",
        "file_part",
        "files_of",
        "find_artifact",
        "select_interface",
        "text_of",
        "user_message",
    ],
    "accord.client.credentials": [
        "ApiKey",
        "BasicAuth",
        "BearerToken",
        "ClientCertificate",
        "Credential",
        "CredentialProvider",
        "Credentials",
        "OAuth2ClientCredentials",
        "SchemeUse",
        "SelectedCredentials",
        "describe_requirement",
        "describe_scheme",
        "http_client",
        "scheme_kind",
        "select_credentials",
        "ssl_context",
    ],
    "accord.client.handshake": [
        "CallerPolicy",
        "GuaranteeReport",
        "MinimisationRefused",
        "NegotiationUnsupported",
        "accept_counter",
        "check_guarantees",
        "declared_needs",
        "extension_params",
        "propose",
        "send_negotiation",
        "under_agreement",
    ],
    "accord.client.transports": [
        "JsonRpcTransport",
        "MemoryTransport",
        "RestTransport",
        "Transport",
        "TransportOptions",
    ],
    "accord.console": [
        "CONSOLE_PATH",
        "LOOPBACK",
        "ConsoleApp",
        "ConsoleLimits",
        "with_console",
    ],
    "accord.demo": [],
    "accord.grpc": [
        "BINDING_GRPC",
        "GRPC_TRANSPORTS",
        "SERVICE",
        "GrpcServer",
        "GrpcTransport",
        "server_credentials",
    ],
    "accord.demo.receptionist": [
        "API_KEY_HEADER",
        "CLOSES",
        "COMPLIANCE",
        "CONTRACTS",
        "DATA_NEEDS",
        "DEFAULT_PACE",
        "GUARANTEES",
        "KEYS_ENV",
        "KEY_FILE",
        "MAX_DAYS_AHEAD",
        "MAX_WINDOW",
        "OPENS",
        "PACE_ENV",
        "PRICES",
        "RESIDENCY",
        "SECURITY",
        "SECURITY_SCHEMES",
        "SKILLS",
        "Pace",
        "Receptionist",
        "create_agent",
        "create_app",
        "load_api_keys",
        "pace_from_env",
        "receptionist_policy",
    ],
    "accord.errors": [
        "A2AError",
        "AlgorithmError",
        "CardDriftError",
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
        "RateLimitedError",
        "SecurityError",
        "SignatureError",
        "StoreError",
        "StoreUnavailableError",
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
    ],
    "accord.mcp": [
        "MCP_PATH",
        "STATES",
        "AgentBridge",
        "AgentGroup",
        "Bridge",
        "HttpServer",
        "McpServer",
        "McpTools",
        "StateRule",
        "StdioServer",
        "ToolArgumentError",
        "ToolBox",
        "ToolCallError",
        "http_app",
        "mcp_tools",
        "result_parts",
        "serve_http",
        "serve_stdio",
        "tool_name",
    ],
    "accord.otel": [
        "DURATION_BUCKETS",
        "METRICS_PATH",
        "SAMPLE_INTERVAL",
        "ClientTracing",
        "Instrumentation",
        "Metrics",
        "PrometheusReader",
        "Telemetry",
        "Tracing",
        "current_ids",
        "instrument",
        "telemetry_from_env",
        "with_metrics",
    ],
    "accord.protocol": [
        "BY_METHOD",
        "OPERATIONS",
        "Capability",
        "Operation",
        "RestRoute",
        "errors",
        "lifecycle",
        "op",
        "operations",
        "sse",
        "versioning",
    ],
    "accord.protocol.handshake": [
        "BUCKET_BOUNDS_MS",
        "DETECTORS",
        "FILE",
        "GUARANTEES_EXTENSION",
        "MAX_DEPTH",
        "MAX_PATTERN",
        "MINIMISATION_EXTENSION",
        "NEGOTIATION_EXTENSION",
        "SKILLS_EXTENSION",
        "UNDECLARED",
        "Breach",
        "Budget",
        "Constraints",
        "DataNeeds",
        "Decision",
        "DecisionKind",
        "Detector",
        "Finding",
        "Guarantees",
        "JsonSchema",
        "LatencyHistogram",
        "Minimised",
        "Observed",
        "Price",
        "Proposal",
        "SchemaViolation",
        "SkillContract",
        "SkillGuarantee",
        "SkillInput",
        "Withheld",
        "breaches",
        "by_skill",
        "check_schema",
        "find",
        "luhn_valid",
        "minimise",
        "negotiation_payload",
        "parse_time",
        "promised",
        "skill_inputs",
        "skill_named",
    ],
    "accord.registry": [
        "FILTER_FIELDS",
        "CardVersion",
        "Discovered",
        "Entry",
        "Health",
        "Hit",
        "Recorded",
        "RegistryApp",
        "RegistryAuth",
        "RegistryClient",
        "RegistryError",
        "RegistryStore",
        "SearchPage",
        "SearchQuery",
        "Status",
        "agent_identifier",
        "discover",
        "open_registry_store",
    ],
    "accord.security": [
        "JWK",
        "RULES",
        "CardDiff",
        "Change",
        "Impact",
        "JWKSet",
        "Rule",
        "TrustStore",
        "VerifiedSignature",
        "canonical_payload",
        "canonical_payload_from_json",
        "canonicalize",
        "card_json",
        "card_pin",
        "diff_cards",
        "parse_pin",
        "sign_card",
        "verify_card",
    ],
    "accord.server": [
        "A2AApp",
        "Agent",
        "AgentFunction",
        "AuditInterceptor",
        "CallInfo",
        "ConnectionLimits",
        "Content",
        "CorsPolicy",
        "Engine",
        "ExecutionInfo",
        "Interceptor",
        "Outcome",
        "PushSettings",
        "QuotaRule",
        "Quotas",
        "RateLimit",
        "RateLimiter",
        "ServerLimits",
        "TaskContext",
        "build_card",
    ],
    "accord.server.handshake": [
        "DEFAULT_TTL",
        "DEFAULT_WINDOW",
        "MANIFEST_PATH",
        "MAX_AGREEMENTS",
        "MESSAGE_OPERATIONS",
        "MIN_COUNT",
        "REFRESH",
        "DataMinimisation",
        "FoundingSurface",
        "GuaranteeMonitor",
        "Inbound",
        "Negotiation",
        "Policy",
        "SkillContracts",
        "data_detail",
        "manifest_auth",
    ],
    "accord.server.quotas": [
        "QUOTA_EXTENSION",
        "Bucket",
        "MemoryBuckets",
        "QuotaBackend",
        "QuotaBackendError",
        "QuotaRule",
        "Quotas",
        "RateLimit",
        "RateLimiter",
        "Refusal",
        "RunningLimit",
        "applicable",
        "backend_for",
        "skill_of",
    ],
    "accord.server.push": [
        "ConfigSealer",
        "PushConfigs",
        "PushSettings",
        "SealError",
        "generate_key",
        "generate_key_file",
        "load_key",
        "load_or_create_key",
        "push_configs",
    ],
    "accord.server.auth": [
        "MIN_KEY_LENGTH",
        "AccessPolicy",
        "AccessRequest",
        "ApiKey",
        "ApiKeyRing",
        "ApiKeyVerifier",
        "AuthConfig",
        "AuthConfigError",
        "AuthenticationRequired",
        "Authenticator",
        "Credential",
        "CredentialRejected",
        "InsufficientScope",
        "JWKSCache",
        "JWTVerifier",
        "MutualTLSVerifier",
        "OAuthVerifier",
        "Principal",
        "RequestInfo",
        "TaskAccessHook",
        "Verifier",
        "generate_api_key",
        "hash_api_key",
    ],
    "accord.stores": [
        "MAX_PAGE_SIZE",
        "AuditBreak",
        "AuditChain",
        "AuditEntry",
        "AuditQuery",
        "AuditRecord",
        "AuditReport",
        "AuditStore",
        "HeldStore",
        "Lease",
        "MemoryHeld",
        "MemoryTaskStore",
        "PushConfigRecord",
        "PushConfigStore",
        "PushDelivery",
        "SQLiteTaskStore",
        "Scope",
        "StoredEvent",
        "TaskPage",
        "TaskQuery",
        "TaskRecord",
        "TaskStore",
        "create_database_file",
        "is_postgres_url",
        "migrate",
        "open_store",
        "verify_entries",
        "verify_store",
    ],
    "accord.types": [
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
        "text_of",
        "to_builtins",
        "user_message",
    ],
}

#: Names that left a package's ``__all__`` (API curation): they stay importable from
#: the module that defines them, for advanced use.
MOVED = {
    "LocalTaskEvents": "accord.server.events",
    "CallContext": "accord.server.context",
    "HandlerStream": "accord.server.streams",
    "RequestHandler": "accord.server.handler",
    "Runtime": "accord.server.runtime",
    "JsonRpcEnvelope": "accord.bindings.jsonrpc",
    "split_jsonrpc": "accord.bindings.jsonrpc",
}


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
    return importlib.import_module(name)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_exist(name: str) -> None:
    module = _module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_unique(name: str) -> None:
    exported = list(_module(name).__all__)
    assert len(set(exported)) == len(exported), "duplicates in __all__"
    assert exported == sorted(exported, key=sort_key)


def test_every_public_package_has_a_snapshot() -> None:
    assert sorted(PACKAGES) == sorted([*PUBLIC_PACKAGES, "accord.errors"])


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_package_snapshot(name: str) -> None:
    assert list(_module(name).__all__) == PACKAGES[name]


@pytest.mark.parametrize(("name", "module"), sorted(MOVED.items()))
def test_curated_out_names_stay_importable_from_their_modules(
    name: str, module: str
) -> None:
    assert name in _module(module).__all__
    assert not any(name in PACKAGES[p] for p in PACKAGES if p != module)


def test_one_event_stream() -> None:
    """``EventStream`` names one class in the public API: what the client streams."""
    from accord.client import EventStream

    exporters = {
        name: _module(name).EventStream
        for name in PUBLIC_MODULES
        if "EventStream" in _module(name).__all__
    }
    assert exporters == {
        "accord.client": EventStream,
        "accord.client.stream": EventStream,
    }


def test_every_error_is_exported() -> None:
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


HEAVY = ("accord.server", "accord.cli", "accord.stores", "accord.grpc")
ABOVE_PROTOCOL = (*HEAVY, "accord.bindings", "accord.client")


#: Importing each (in this order, cumulatively) loads none of its forbidden packages.
LIGHT = [
    ("accord", HEAVY),
    ("accord.errors", ABOVE_PROTOCOL),
    ("accord.types", ABOVE_PROTOCOL),
    ("accord.protocol", ABOVE_PROTOCOL),
]


def test_import_stays_light() -> None:
    # One fresh interpreter (this process has imported everything already); imports
    # accumulate in LIGHT's order, so each step is checked against what it adds.
    code = (
        "import importlib, json, sys\n"
        f"steps = {LIGHT!r}\n"
        "leaks = {}\n"
        "for module, bad in steps:\n"
        "    importlib.import_module(module)\n"
        "    leaks[module] = sorted(m for m in sys.modules\n"
        "        if any(m == b or m.startswith(b + '.') for b in bad))\n"
        "print(json.dumps(leaks))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == {module: [] for module, _ in LIGHT}
