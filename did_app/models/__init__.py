"""All models, imported here so the metadata is complete."""
from did_app.models.activity import (
                                     AuditEvent,
                                     Batch,
                                     BatchItem,
                                     Delivery,
                                     DigestItem,
                                     Notification,
                                     NotificationRead,
                                     ReminderClaim,
)
from did_app.models.auth import ApiToken, LoginAttempt, User, UserSession
from did_app.models.configuration import (
                                     CapacityGroup,
                                     CapacityPool,
                                     CapacityPoolCountry,
                                     ConfigurationProfile,
                                     Rule,
                                     SmsRoute,
                                     VoiceRoute,
)
from did_app.models.lifecycle import LedgerEntry, Order, PortInRequest
from did_app.models.numbers import Number, NumberService, ReleasedNumber, SavedList
from did_app.models.registration import (
                                     Address,
                                     Identity,
                                     Proof,
                                     ProofFile,
                                     ProofType,
                                     RejectReason,
                                     Requirement,
                                     VerificationRequest,
                                     VerificationRequestProof,
)
from did_app.models.workspace import Workspace

__all__ = [
    "Address", "ApiToken", "AuditEvent", "Batch", "BatchItem", "CapacityGroup", "CapacityPool",
    "CapacityPoolCountry", "ConfigurationProfile", "Delivery", "DigestItem", "Identity",
    "LedgerEntry", "LoginAttempt", "Notification", "NotificationRead", "Number", "NumberService",
    "Order", "PortInRequest", "Proof", "ProofFile", "ProofType", "RejectReason", "ReleasedNumber",
    "ReminderClaim", "Requirement", "Rule", "SavedList", "SmsRoute", "User", "UserSession",
    "VerificationRequest", "VerificationRequestProof", "VoiceRoute", "Workspace",
]
