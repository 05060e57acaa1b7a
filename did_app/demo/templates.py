"""Number templates: how the demo numbers of one country and type are shaped and drawn, unique and valid."""
import bisect

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, phonenumberutil

from did_app.demo.data import ACCEPTED_TYPES, PRICE_FACTOR, PRICES, SETUP

# The type of a national number against one region's metadata. phonenumbers' own helper skips
# the region lookup that `number_type()` repeats for every number (slow for the 25 NANP regions);
# the public call is the fallback. Tests check every seeded number with `is_valid_number()`.
_type_helper = getattr(phonenumberutil, "_number_type_helper", None)


class _Template:
    """One national prefix of one country and type; hands out unique valid numbers."""

    __slots__ = ("country", "cc", "ntype", "prefix", "k", "mod", "a", "b", "i", "accepted", "nanp",
                 "zeros", "region", "city", "weight", "registration", "prices", "setup", "metadata")

    def __init__(self, rng, country, cc, ntype, prefix, length, weight, region, city, exponent):
        self.country, self.cc, self.ntype, self.prefix = country, cc, ntype, prefix
        self.k = length - len(prefix)
        self.mod = 10 ** self.k
        self.a = rng.randrange(self.mod // 3, self.mod) | 1
        while self.a % 5 == 0:
            self.a += 2
        self.b = rng.randrange(self.mod)
        self.i = 0
        self.accepted = ACCEPTED_TYPES[ntype]
        self.nanp = cc == 1
        self.zeros = len(prefix) - len(prefix.lstrip("0"))
        self.metadata = (PhoneMetadata.metadata_for_nongeo_region(cc) if country == "001"
                         else PhoneMetadata.metadata_for_region(country)) if _type_helper else None
        self.region, self.city, self.weight = region or None, city or None, weight
        self.registration = False
        factor = PRICE_FACTOR.get(country, 1.3)
        scale = 10 ** exponent
        self.prices = tuple(int(round(p * factor * scale)) for p in PRICES[ntype])
        self.setup = int(round(SETUP.get(ntype, 0.0) * scale))

    def draw(self) -> str | None:
        """The next unused valid number of this template, or None when the range is used up."""
        while self.i < self.mod:
            x = (self.a * self.i + self.b) % self.mod
            self.i += 1
            suffix = str(x).zfill(self.k)
            if self.nanp and (suffix.startswith("555") or suffix[1:3] == "11"):
                continue  # fictional 555 and N11 service exchanges
            nsn = self.prefix + suffix
            if self.metadata is not None:
                if _type_helper(nsn, self.metadata) in self.accepted:
                    return f"+{self.cc}{nsn}"
                continue
            num = PhoneNumber(country_code=self.cc, national_number=int(nsn))
            if self.zeros:
                num.italian_leading_zero = True
                if self.zeros > 1:
                    num.number_of_leading_zeros = self.zeros
            if phonenumbers.number_type(num) in self.accepted:
                return f"+{self.cc}{nsn}"
        return None


class _Picker:
    """Weighted choice among templates, skipping exhausted ones."""

    def __init__(self, templates):
        self.templates = list(templates)
        self._rebuild()

    def _rebuild(self):
        self.cum, total = [], 0.0
        for t in self.templates:
            total += t.weight
            self.cum.append(total)
        self.total = total

    def __bool__(self):
        return bool(self.templates)

    def draw(self, rng):
        while self.templates:
            tpl = self.templates[bisect.bisect_right(self.cum, rng.random() * self.total)
                                 if self.total else 0]
            number = tpl.draw()
            if number is not None:
                return tpl, number
            self.templates.remove(tpl)
            self._rebuild()
        raise RuntimeError("the demo number templates are used up")
