"""RADIUS clients: add (with a generated or given shared secret), list, remove, find the one a
packet came from, and re-seal their secrets when the sealing key is rotated."""

from __future__ import annotations

import ipaddress
import re
import secrets
import string

from django.db import IntegrityError, transaction
from django.utils import timezone

from watchword.audit.services import record_change
from watchword.core import sealing
from watchword.protocols.errors import RadiusClientExists, RadiusClientInvalid, RadiusClientNotFound
from watchword.protocols.models import RadiusClient

MIN_SECRET = 16
MAX_SECRET = 128  # RFC 2865 allows any length; NAS user interfaces rarely take more
GENERATED_SECRET = 32
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SECRET_ALPHABET = string.ascii_letters + string.digits


def secret_purpose(client_id: int) -> str:
    return f"radius-secret:{client_id}"


def clean_name(value: object) -> str:
    name = str(value or "").strip()
    if not NAME_RE.match(name):
        raise RadiusClientInvalid("The name must be 1 to 64 letters, digits, dots, dashes or underscores, "
                                  "starting with a letter or digit (like vpn-1).", field="name")
    return name


def clean_address(value: object) -> str:
    """One IP address or a network in CIDR notation, IPv4 or IPv6, stored in its canonical form."""
    text = str(value or "").strip()
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise RadiusClientInvalid(f"{text or 'An empty address'} is not an IP address or CIDR network "
                                  "(like 192.0.2.10, 192.0.2.0/24 or 2001:db8::/64).", field="address") from None
    if "/" in text and network.network_address != ipaddress.ip_address(text.split("/", 1)[0]):
        raise RadiusClientInvalid(f"{text} has host bits set; did you mean {network}?", field="address")
    return str(network.network_address) if network.num_addresses == 1 else str(network)


def clean_secret(value: object) -> str:
    text = str(value or "")
    if len(text) < MIN_SECRET:
        raise RadiusClientInvalid(f"The shared secret must be at least {MIN_SECRET} characters long.",
                                  field="secret")
    if len(text) > MAX_SECRET:
        raise RadiusClientInvalid(f"The shared secret must be at most {MAX_SECRET} characters long.",
                                  field="secret")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise RadiusClientInvalid("The shared secret cannot contain control characters.", field="secret")
    return text


def new_secret() -> str:
    return "".join(secrets.choice(SECRET_ALPHABET) for _ in range(GENERATED_SECRET))


def add_client(*, name: object, address: object, secret: object = None, actor, request=None) -> tuple[RadiusClient, str]:
    """Add a RADIUS client; returns it and its shared secret (generated when none is given),
    which is shown once and stored sealed."""
    name = clean_name(name)
    address = clean_address(address)
    secret = new_secret() if secret in (None, "") else clean_secret(secret)
    try:
        with transaction.atomic():
            client = RadiusClient.objects.create(name=name, address=address, created_at=timezone.now())
            client.secret_sealed = sealing.seal(secret.encode(), purpose=secret_purpose(client.pk),
                                                keyring=sealing.default_keyring())
            client.save(update_fields=["secret_sealed"])
            record_change(actor=actor, action="radius.client.add", target=client, target_type="radius_client",
                          after={"name": name, "address": address}, request=request)
    except IntegrityError:
        raise RadiusClientExists(f"A RADIUS client named {name} already exists.", field="name") from None
    return client, secret


def list_clients() -> list[RadiusClient]:
    return list(RadiusClient.objects.order_by("name"))


def get_client(name: object) -> RadiusClient:
    client = RadiusClient.objects.filter(name=str(name or "").strip()).first()
    if client is None:
        raise RadiusClientNotFound(f"There is no RADIUS client named {str(name or '').strip()!r}.")
    return client


def get_client_by_id(client_id: object) -> RadiusClient:
    try:
        client = RadiusClient.objects.filter(pk=int(client_id)).first()
    except (TypeError, ValueError, OverflowError):
        client = None
    if client is None:
        raise RadiusClientNotFound()
    return client


def remove_client(client: RadiusClient, *, actor, request=None) -> None:
    with transaction.atomic():
        RadiusClient.objects.filter(pk=client.pk).delete()
        record_change(actor=actor, action="radius.client.remove", target=client, target_type="radius_client",
                      before={"name": client.name, "address": client.address}, request=request)


def secret_of(client: RadiusClient, keyring: sealing.Keyring | None = None) -> bytes:
    return sealing.unseal(client.secret_sealed, purpose=secret_purpose(client.pk),
                          keyring=keyring or sealing.default_keyring())


def client_for_address(ip: str, clients: list[RadiusClient] | None = None) -> RadiusClient | None:
    """The enabled client whose address or network holds ``ip``; the most specific one wins."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    best, best_prefix = None, -1
    for client in clients if clients is not None else RadiusClient.objects.filter(enabled=True):
        if not client.enabled:
            continue
        try:
            network = ipaddress.ip_network(client.address, strict=False)
        except ValueError:
            continue
        if network.version == address.version and address in network and network.prefixlen > best_prefix:
            best, best_prefix = client, network.prefixlen
    return best


def reseal_secrets(*, old: sealing.Keyring, new: sealing.Keyring) -> int:
    """Part of ``keys rotate``: re-seal every RADIUS secret under the new primary key."""
    count = 0
    for client in RadiusClient.objects.select_for_update().exclude(secret_sealed=""):
        purpose = secret_purpose(client.pk)
        client.secret_sealed = sealing.seal(sealing.unseal(client.secret_sealed, purpose=purpose, keyring=old),
                                            purpose=purpose, keyring=new)
        client.save(update_fields=["secret_sealed"])
        count += 1
    return count


def revoke_tokens_of_users(user_ids: list[int]) -> int:
    """Revoke every OpenID Connect token of these people (disabled or deleted): refresh tokens
    are marked revoked and access tokens removed, so neither works again. Returns how many."""
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model

    if not user_ids:
        return 0
    count = 0
    ids = list(user_ids)
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        count += get_refresh_token_model().objects.filter(user_id__in=chunk, revoked__isnull=True).update(
            revoked=timezone.now())
        count += get_access_token_model().objects.filter(user_id__in=chunk).delete()[0]
    return count
