from __future__ import annotations

import heymarket_async
from heymarket_async import errors


def test_all_lists_exactly_the_public_names() -> None:
    """`__all__` is sorted, complete and every name in it exists."""
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
