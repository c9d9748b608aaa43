"""Domain errors, named after the AWS error shapes that clients expect.

They know nothing of HTTP: ``livelens.api`` maps each to the status code and
error code that the service model declares for the operation at hand.

    LivelensError
    ├── InvalidRequestException        a request that breaks a documented constraint
    ├── InvalidParameterException      a malformed parameter value (e.g. a resource ARN)
    ├── ResourceNotFoundException      unknown instance, contact, participant, rule
    ├── OutputTypeNotFoundException    Raw asked under RedactedOnly, or Redacted without redaction
    ├── ContactNotFoundException       the contact is no longer active
    ├── DuplicateResourceException     a name already used in the instance
    ├── ResourceConflictException      a rule name already used in the instance (CreateRule, UpdateRule)
    ├── ConflictException              the request conflicts with the resource's state
    ├── IdempotencyException           a ClientToken reused with other parameters
    ├── AccessDeniedException          a forged, expired or revoked participant token
    ├── ThrottlingException            too many requests
    ├── ServiceQuotaExceededException  a per-instance limit reached
    └── InternalServiceException       anything unexpected (never carries a traceback)
"""

from __future__ import annotations


class LivelensError(Exception):
    """Base of every error that reaches a client as an AWS error."""

    code = "InternalServiceException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequestException(LivelensError):
    code = "InvalidRequestException"


class InvalidParameterException(LivelensError):
    code = "InvalidParameterException"


class ResourceNotFoundException(LivelensError):
    code = "ResourceNotFoundException"


class OutputTypeNotFoundException(LivelensError):
    code = "OutputTypeNotFoundException"


class ContactNotFoundException(LivelensError):
    code = "ContactNotFoundException"


class DuplicateResourceException(LivelensError):
    code = "DuplicateResourceException"


class ResourceConflictException(LivelensError):
    code = "ResourceConflictException"


class ConflictException(LivelensError):
    code = "ConflictException"


class IdempotencyException(LivelensError):
    code = "IdempotencyException"


class AccessDeniedException(LivelensError):
    code = "AccessDeniedException"


class ThrottlingException(LivelensError):
    code = "ThrottlingException"


class ServiceQuotaExceededException(LivelensError):
    code = "ServiceQuotaExceededException"


class InternalServiceException(LivelensError):
    code = "InternalServiceException"
