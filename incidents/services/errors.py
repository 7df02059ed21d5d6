"""Errors the services raise for requests that make no sense in the current state."""


class DomainError(Exception):
    """A request that makes no sense for the current state. The API answers 409 with the message."""


class InvalidTransition(DomainError):
    pass
