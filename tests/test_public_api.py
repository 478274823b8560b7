from __future__ import annotations

import subprocess
import sys

import heymarket_async
from heymarket_async import errors


def test_all_lists_exactly_the_public_names() -> None:
    """`__all__` is sorted, complete and every name in it exists."""
    assert set(heymarket_async._LAZY_EXPORTS) == set(heymarket_async.__all__)
    for name in heymarket_async.__all__:
        getattr(heymarket_async, name)  # names load on first use; this loads them all
    assert set(heymarket_async.__all__) <= set(dir(heymarket_async))
    public = {
        name
        for name in vars(heymarket_async)
        if not name.startswith("_")
        and name not in {"annotations", "errors", "resources", "testing", "bulk", "sandbox"}
        and not isinstance(getattr(heymarket_async, name), type(heymarket_async))
    }
    assert set(heymarket_async.__all__) == public
    assert list(heymarket_async.__all__) == sorted(heymarket_async.__all__)


def test_version_is_exposed() -> None:
    """`__version__` reads the installed distribution's version."""
    assert heymarket_async.__version__ == "0.1.0.dev0"


def test_error_tree() -> None:
    """The error classes form the documented tree."""
    assert issubclass(errors.RequestValidationError, ValueError)
    assert issubclass(errors.ConfigurationError, ValueError)
    assert issubclass(errors.TransportTimeoutError, TimeoutError)
    assert issubclass(errors.TransportTimeoutError, errors.TransportError)
    assert issubclass(errors.NetworkError, errors.TransportError)
    for cls in (
        errors.BadRequestError,
        errors.AuthenticationError,
        errors.PermissionDeniedError,
        errors.NotFoundError,
        errors.ConflictError,
        errors.RateLimitError,
        errors.ServerError,
    ):
        assert issubclass(cls, errors.APIError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.HeymarketError)


def _modules_loaded_by(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    shown = "import sys; print('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(  # noqa: S603 - our own interpreter, literal code
        [sys.executable, "-c", f"{code}\n{shown}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


HEAVY_AT_START: tuple[str, ...] = (
    "joserfc",  # loads on the first JWT minted
    "cryptography",
    "rich",
    "importlib.metadata",
    "heymarket_async.bulk",
    "heymarket_async.sandbox",
    "heymarket_async._reconcile",
    *(
        f"heymarket_async.resources.{name}"
        for name in (
            "contacts",
            "contacts_v2",
            "conversations",
            "email",
            "inboxes",
            "lists",
            "messages",
            "schedules",
            "surveys",
            "tags",
            "team",
            "templates",
            "users",
        )
    ),
)


def test_import_loads_no_resource_module_and_no_jose() -> None:
    """Importing the client leaves the resource modules and JOSE for their first use."""
    assert "aiohttp" not in _modules_loaded_by("import heymarket_async")
    loaded = _modules_loaded_by("from heymarket_async import HeymarketClient")
    assert "heymarket_async._client" in loaded
    assert loaded.isdisjoint(HEAVY_AT_START), sorted(loaded & set(HEAVY_AT_START))


def test_cli_help_loads_no_resource_module_and_no_jose() -> None:
    """Building the `heymarket` parser (what `--help` does) loads none of the heavy parts."""
    loaded = _modules_loaded_by("import heymarket_async.cli as c; c.build_parser()")
    assert "heymarket_async._cli._broadcast" in loaded
    heavy = {*HEAVY_AT_START, "aiohttp", "heymarket_async._client"}
    assert loaded.isdisjoint(heavy), sorted(loaded & heavy)


def test_a_service_and_a_model_load_on_first_use() -> None:
    """`hm.messages` and `heymarket_async.SendMessage` work and load only their module."""
    loaded = _modules_loaded_by(
        "import heymarket_async as h\n"
        "hm = h.HeymarketClient(api_key='k' * 32)\n"
        "assert type(hm.messages).__name__ == 'Messages' and hm.messages is hm.messages\n"
        "assert h.SendMessage is __import__('heymarket_async.resources.messages').resources"
        ".messages.SendMessage"
    )
    assert "heymarket_async.resources.messages" in loaded
    assert "heymarket_async.resources.contacts" not in loaded
    assert "joserfc" not in loaded


PUBLIC_SUBMODULES = (
    "bulk",
    "cli",
    "errors",
    "redis",
    "resources",
    "sandbox",
    "testing",
    "webhooks",
)


def test_public_submodules_are_attributes_of_the_package_without_importing_them() -> None:
    """`heymarket_async.errors.RateLimitError` works right after `import heymarket_async`,
    whatever was imported before, and `dir()` lists every public submodule."""
    loaded = _modules_loaded_by(
        "import heymarket_async as h\n"
        "assert h.errors.RateLimitError.__module__ == 'heymarket_async.errors'\n"
        f"for name in {PUBLIC_SUBMODULES!r}:\n"
        "    assert getattr(h, name).__name__ == 'heymarket_async.' + name, name\n"
        "    assert name in dir(h), name\n"
        "assert not hasattr(h, 'no_such_module')\n"
    )
    assert {f"heymarket_async.{name}" for name in PUBLIC_SUBMODULES} <= loaded


def test_listing_the_package_loads_no_submodule() -> None:
    """`dir(heymarket_async)` names the submodules without loading them (nor redis)."""
    loaded = _modules_loaded_by("import heymarket_async as h\nassert 'errors' in dir(h)")
    heavy = {*HEAVY_AT_START, "redis", "heymarket_async.redis", "aiohttp"}
    assert loaded.isdisjoint(heavy), sorted(loaded & heavy)
