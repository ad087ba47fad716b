"""Where a pin's bytes are in its file, and the one way they are rewritten.

A reader records each pin's spans (offsets of the commit, the hash, the date); a writer
reads the file again, finds the same pin, and replaces exactly those spans. Every other
byte of the file is the text it was given. A span whose value is already the new one is
left alone, so rewriting a pin with its own values gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from xla_tasks.pins.native.digest import hex_of_sri, sri_of
from xla_tasks.pins.native.model import NativePin, PinUpdate

# what a span holds: the commit, the date, or the hash as hex or as SRI
COMMIT, DATE, HEX, SRI = "commit", "date", "hex", "sri"


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    holds: str


@dataclass(frozen=True, slots=True)
class Site:
    pin: NativePin
    spans: tuple[Span, ...]


def find_site(sites: list[Site], pin: NativePin) -> Site:
    """The site in a freshly read file that is `pin`; an error if the file has moved on."""
    for site in sites:
        if (
            site.pin.format == pin.format
            and site.pin.line == pin.line
            and site.pin.commit == pin.commit
        ):
            return site
    raise ValueError(
        f"{pin.file}:{pin.line} no longer pins {pin.commit}: read the pins again before writing"
    )


def rewrite(text: str, site: Site, update: PinUpdate) -> str:
    """`text` with the site's spans replaced by the update's values, and nothing else."""
    pin = site.pin
    if pin.sha256 is not None and update.sha256 is None:
        raise ValueError(f"{pin.file}:{pin.line} pins a hash too: give the new SHA-256")
    if pin.date is not None and update.date is None:
        raise ValueError(f"{pin.file}:{pin.line} carries a date: give the new date")
    pieces: list[str] = []
    last = 0
    for span in sorted(site.spans, key=lambda s: s.start):
        old = text[span.start : span.end]
        new = _new_value(span.holds, old, update)
        if new is None:
            continue
        pieces.append(text[last : span.start])
        pieces.append(new)
        last = span.end
    pieces.append(text[last:])
    return "".join(pieces)


def _new_value(holds: str, old: str, update: PinUpdate) -> str | None:
    """The replacement for one span, or None when it already holds the new value."""
    if holds == COMMIT:
        new = update.commit.lower()
        return None if old.lower() == new else new
    if holds == DATE:
        return None if old == update.date else update.date
    assert update.sha256 is not None
    digest = update.sha256.lower()
    if holds == HEX:
        return None if old.lower() == digest else digest
    return None if hex_of_sri(old) == digest else sri_of(digest)
