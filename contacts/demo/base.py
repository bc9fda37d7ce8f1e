"""What every part of one chunk's generator shares: its random generator, the clock and the counters."""

import datetime as dt
import random
from dataclasses import dataclass, field

from django.utils import timezone

from .catalogue import Catalogue

CHUNK = 5_000  # contacts generated and written at a time
DAY = 86_400


@dataclass
class Rows:
    """Rows of one chunk, per table, in the column order of FIELDS."""

    contacts: list = field(default_factory=list)
    purchases: list = field(default_factory=list)
    items: list = field(default_factory=list)
    events: list = field(default_factory=list)
    members: list = field(default_factory=list)
    points: list = field(default_factory=list)
    consent: list = field(default_factory=list)
    tags: list = field(default_factory=list)


@dataclass
class State:
    """Counters that run across chunks, so ids and external ids are unique and stable."""

    contact_base: int
    purchase_base: int
    member_base: int
    purchases: int = 0
    members: int = 0
    anonymous: int = 0


def pick_weighted(rng: random.Random, pairs: list) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


class ChunkBase:
    """The generator's shared parts; the sub-domain mixins (people, purchases, events, club) build on it.

    Every mixin draws from the one generator `r` in a fixed order, so splitting the generator by
    sub-domain changes nothing in the numbers drawn. UTM tags come from a second generator, `traffic`.
    """

    def __init__(
        self, rng: random.Random, catalogue: Catalogue, anchor: dt.datetime, state: State, seed: int, chunk_no: int
    ) -> None:
        self.r = rng
        self.traffic = random.Random(f"demo:{seed}:{chunk_no}:traffic")  # UTM tags only, see `traffic`
        self.cat = catalogue
        self.anchor = anchor
        self.state = state
        self.seed = seed
        self.rows = Rows()
        self.today = timezone.localtime(anchor).date()

    def at(self, seconds_ago: float) -> dt.datetime:
        return self.anchor - dt.timedelta(seconds=int(seconds_ago))
