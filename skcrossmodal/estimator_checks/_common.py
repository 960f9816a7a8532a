"""What the two-view and the K-view checks share: raising and tolerances."""

_SIMILARITY_TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


def _raises(exception, match, function, *args, **kwargs):
    """Call ``function`` and assert it raises ``exception`` with ``match`` in it."""
    try:
        function(*args, **kwargs)
    except exception as error:
        message = str(error)
        assert match.lower() in message.lower(), (
            f"expected {exception.__name__} mentioning {match!r}, got: {message}"
        )
        return
    raise AssertionError(f"{exception.__name__} mentioning {match!r} was not raised")
