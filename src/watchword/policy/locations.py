"""Named locations (IP ranges, IPv4 and IPv6, optionally marked trusted) and the MFA trusted
IPs: parsed and checked once, then matched against a sign-in's address. Pure.

Bounds follow the reference: at most ``MAX_LOCATIONS`` locations of ``MAX_RANGES`` ranges, and
no range wider than ``/9`` (IPv4) or ``/16`` (IPv6) — a range that wide is a typo, not a network.
Ranges overlapping inside one location are refused (one of them is a mistake); two locations may
overlap (an office inside a country-wide network, say).
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from dataclasses import dataclass

from watchword.policy.errors import PolicyInvalid

MAX_LOCATIONS = 195
MAX_RANGES = 2000
MAX_TRUSTED_IPS = 50
MIN_PREFIX = {4: 9, 6: 16}
MAX_NAME = 256

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def index_of(networks) -> dict:
    """Networks as sorted, merged integer intervals per IP version, for ``in_index``: a lookup
    costs one binary search however many ranges there are."""
    spans: dict[int, list[list[int]]] = {4: [], 6: []}
    for network in networks:
        spans[network.version].append([int(network.network_address), int(network.broadcast_address)])
    index = {}
    for version, items in spans.items():
        items.sort()
        merged: list[list[int]] = []
        for start, end in items:
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        index[version] = ([start for start, _ in merged], [end for _, end in merged])
    return index


def in_index(index: dict, address) -> bool:
    if address is None:
        return False
    starts, ends = index.get(address.version, ((), ()))
    value = int(address)
    position = bisect_right(starts, value) - 1
    return position >= 0 and value <= ends[position]


@dataclass(frozen=True)
class NamedLocation:
    id: str
    name: str
    ranges: tuple[Network, ...]
    trusted: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", index_of(self.ranges))

    def contains(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return in_index(self._index, address)


def parse_ranges(values, *, field: str = "ranges", limit: int = MAX_RANGES) -> tuple[Network, ...]:
    """Ranges as typed (``10.1.0.0/16``, ``2001:db8::/48``, or one address) → networks, with a
    message naming the bad one. A list of strings, or one string of ranges separated by commas,
    spaces or new lines."""
    if isinstance(values, str):
        values = values.replace(",", " ").split()
    if not isinstance(values, (list, tuple)):
        raise PolicyInvalid("IP ranges must be a list of ranges such as 10.1.0.0/16.", field=field)
    if len(values) > limit:
        raise PolicyInvalid(f"At most {limit} IP ranges are allowed here; there are {len(values)}.", field=field)
    networks: list[Network] = []
    for index, value in enumerate(values):
        where = f"{field}[{index}]"
        if not isinstance(value, str) or not value.strip():
            raise PolicyInvalid("Each IP range must be text such as 10.1.0.0/16 or 2001:db8::/48.", field=where)
        text = value.strip()
        try:
            network = ipaddress.ip_network(text, strict=True)
        except ValueError:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise PolicyInvalid(f"{text[:60]!r} is not an IP address or range (like 10.1.0.0/16 or "
                                    f"2001:db8::/48).", field=where) from None
            raise PolicyInvalid(f"{text[:60]!r} has host bits set: the range starts at "
                                f"{ipaddress.ip_network(text, strict=False)}.", field=where) from None
        if network.prefixlen < MIN_PREFIX[network.version]:
            raise PolicyInvalid(f"{text} is too wide: an IPv{network.version} range must be "
                                f"/{MIN_PREFIX[network.version]} or narrower.", field=where)
        networks.append(network)
    for network_type in (ipaddress.IPv4Network, ipaddress.IPv6Network):
        same = sorted((n, i) for i, n in enumerate(networks) if isinstance(n, network_type))
        for (first, i), (second, j) in zip(same, same[1:]):
            if first.overlaps(second):
                raise PolicyInvalid(f"{first} and {second} overlap; list each address once.",
                                    field=f"{field}[{max(i, j)}]")
    return tuple(networks)


def compile_location(*, id: str, name: object, ranges: object, trusted: object = False,
                     field: str = "") -> NamedLocation:
    prefix = f"{field}." if field else ""
    if not isinstance(name, str) or not name.strip():
        raise PolicyInvalid("Give the location a name.", field=f"{prefix}displayName")
    if len(name) > MAX_NAME:
        raise PolicyInvalid(f"A location's name can be at most {MAX_NAME} characters.", field=f"{prefix}displayName")
    if not isinstance(trusted, bool):
        raise PolicyInvalid("isTrusted must be true or false.", field=f"{prefix}isTrusted")
    networks = parse_ranges(ranges, field=f"{prefix}ipRanges")
    if not networks:
        raise PolicyInvalid("A named location needs at least one IP range.", field=f"{prefix}ipRanges")
    return NamedLocation(id=str(id), name=name.strip(), ranges=networks, trusted=trusted)


def parse_address(value: str | None):
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None
    # A dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d; it must still match IPv4 ranges.
    return getattr(address, "ipv4_mapped", None) or address
