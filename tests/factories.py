"""Plain factory functions: sensible defaults, unique values from a counter; they commit."""
import itertools
from datetime import timedelta

from did_app import clock
from did_app.db import db
from did_app.models import (
    Address,
    CapacityGroup,
    CapacityPool,
    CapacityPoolCountry,
    Identity,
    Number,
    Order,
    SmsRoute,
    VerificationRequest,
    VoiceRoute,
)
from did_app.models.numbers import features_mask
from did_app.rules import status

_seq = itertools.count(1)


def _commit(obj):
    db.session.add(obj)
    db.session.commit()
    return obj


def make_voice_trunk(**kw):
    n = next(_seq)
    name = kw.pop("name", f"sip-trunk-{n}")
    defaults = dict(kind="trunk", name=name, name_key=name.lower(), trunk_kind="sip",
                    host=f"sip{n}.example.com", port=5060, username="{DID}", transport="udp",
                    codecs=["PCMU", "PCMA"])
    defaults.update(kw)
    return _commit(VoiceRoute(**defaults))


def make_voice_group(members=(), **kw):
    n = next(_seq)
    name = kw.pop("name", f"trunk-group-{n}")
    group = _commit(VoiceRoute(kind="group", name=name, name_key=name.lower(), **kw))
    for m in members:
        m.group_id = group.id
    db.session.commit()
    return group


def make_sms_trunk(**kw):
    n = next(_seq)
    name = kw.pop("name", f"sms-trunk-{n}")
    defaults = dict(kind="trunk", name=name, name_key=name.lower(), trunk_kind="http_in",
                    settings={"url": "https://example.com/sms", "method": "GET"})
    defaults.update(kw)
    return _commit(SmsRoute(**defaults))


def make_sms_group(members=(), **kw):
    n = next(_seq)
    name = kw.pop("name", f"sms-group-{n}")
    group = _commit(SmsRoute(kind="group", name=name, name_key=name.lower(), **kw))
    for m in members:
        m.group_id = group.id
    db.session.commit()
    return group


def make_pool(countries=("US",), total=100, **kw):
    n = next(_seq)
    pool = CapacityPool(name=kw.pop("name", f"pool-{n}"), total_channels=total, monthly_price_minor=500, **kw)
    pool.countries = [CapacityPoolCountry(country=c) for c in countries]
    return _commit(pool)


def make_capacity_group(pool=None, shared=4, metered=0, **kw):
    pool = pool or make_pool()
    return _commit(CapacityGroup(name=kw.pop("name", f"cap-group-{next(_seq)}"), pool_id=pool.id,
                                 shared_channels=shared, metered_channels=metered, **kw))


def make_identity(**kw):
    n = next(_seq)
    defaults = dict(identity_type="personal", first_name="Ada", last_name=f"Lovelace{n}",
                    phone_number="+14155550100", country="US")
    defaults.update(kw)
    return _commit(Identity(**defaults))


def make_verification_request(identity=None, status="pending", **kw):
    identity = identity or make_identity()
    address = _commit(Address(identity_id=identity.id, street="1 Main St", city="Springfield",
                              postal_code="12345", country=identity.country))
    n = next(_seq)
    defaults = dict(reference=f"VR-{n:06d}", identity_id=identity.id, address_id=address.id,
                    country="US", number_type="local", status=status)
    defaults.update(kw)
    return _commit(VerificationRequest(**defaults))


def make_order(**kw):
    n = next(_seq)
    defaults = dict(reference=f"ORD-{n:06d}", kind="add", status="completed")
    defaults.update(kw)
    return _commit(Order(**defaults))


def make_number(features=("voice_in",), **kw):
    """A number (default: a live US local number, no routes → Not configured)."""
    n = next(_seq)
    defaults = dict(number=f"+1415555{n % 10000:04d}", country="US", region="CA", city="San Francisco",
                    number_type="local", features=features_mask(features), capacity_mode="two_included",
                    channels_included=2, monthly_price_minor=150,
                    expires_at=clock.now() + timedelta(days=20))
    defaults.update(kw)
    number = _commit(Number(**defaults))
    status.recompute(Number.id == number.id)
    db.session.commit()
    db.session.refresh(number)
    return number
