"""The fixed parameters of the simulated population: calendar, accounts, traits and behaviour.

Every number here is part of the data format: changing one changes the rows a seed gives, so
`GENERATOR_VERSION` (in `strata.generate.core`) must move with it.
"""

from __future__ import annotations

import numpy as np

Columns = dict[str, np.ndarray]

DAY = 86_400
HISTORY_DAYS = 730
INTERNAL_USERS: tuple[str, ...] = (
    *(f"test_user_{i:02d}" for i in range(1, 11)),
    *(f"staff_{i:04d}" for i in range(1, 6)),
)

# Currencies: population share, units per USD and the home offsets (minutes) of their users.
CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP", "JPY", "CNY", "CAD", "AUD")
CURRENCY_SHARE = np.array([0.62, 0.12, 0.08, 0.06, 0.05, 0.04, 0.03])
UNITS_PER_USD = np.array([1.0, 0.92, 0.78, 150.0, 7.2, 1.37, 1.52])
OFFSETS = np.array([0, 60, 120, 540, 480, -300, -360, -480, 330, 600, -420, 660], dtype=np.int16)
OFFSET_BY_CURRENCY = np.array(
    [
        # +00 +01 +02 +09 +08  -05  -06 -08 +0530 +10 -07 +11
        [0, 0, 0, 0, 0, 0.45, 0.2, 0.2, 0.1, 0, 0.05, 0],  # USD
        [0, 0.7, 0.3, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # EUR
        [0.8, 0.2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # GBP
        [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0],  # JPY
        [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],  # CNY
        [0, 0, 0, 0, 0, 0.6, 0, 0.3, 0, 0, 0.1, 0],  # CAD
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0.7, 0, 0.3],  # AUD
    ]
)
# How a user's timestamps are written: local time with offset, UTC with `Z`, UTC without offset.
STYLE_LOCAL, STYLE_Z, STYLE_NAIVE = 0, 1, 2
STYLE_SHARE = np.array([0.5, 0.3, 0.2])

# Local hour-of-day profile of visits, and the weekend lift.
HOUR_WEIGHTS = np.array(
    [
        *(0.6, 0.35, 0.2, 0.15, 0.15, 0.25, 0.5, 0.9, 1.2, 1.3, 1.3, 1.4),
        *(1.6, 1.5, 1.3, 1.3, 1.4, 1.6, 1.9, 2.2, 2.3, 2.1, 1.6, 1.0),
    ]
)
WEEKEND_LIFT = 1.3
DAY_WEIGHT_MEAN = (5 + 2 * WEEKEND_LIFT) / 7

# Behaviour: archetype shares and lifetimes (days), reactivation, conversion and baskets.
BOUNCER_SHARE, DECLINER_SHARE = 0.28, 0.25
BOUNCER_LIFETIME, STEADY_LIFETIME, DECLINER_LIFETIME = 4.0, 30.0, 42.0
DECLINE_TO = 0.2  # a decliner's visit rate at the end of its lifetime, relative to its start
REACTIVATION_SHARE = 0.13
RETURN_LIFETIME = 50.0
# Share of users who ever buy, for bouncers and the rest; buying keeps a user around longer.
BUYER_SHARE = (0.12, 0.38)
BUYER_LIFETIME_LIFT = 1.6
ANONYMOUS_SHARE = 0.05

STATUSES: tuple[str, ...] = ("completed", "cancelled", "refunded", "pending")
COMPLETED, CANCELLED, REFUNDED, PENDING = range(4)

# Platform spellings: the three canonical ones, odd but valid spellings, and other devices.
PLATFORM_TEXTS: tuple[str, ...] = (
    "web",
    "ios",
    "android",
    " Web",
    "Web ",
    "WEB",
    "iOS",
    "IOS",
    "ANDROID",
    "Android",
    "smart-tv",
    "kiosk",
)
ODD_SPELLINGS = ((3, 4, 5), (6, 7), (8, 9))
USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "StrataShop/4.2.1 (iPhone; iOS 17.4; Scale/3.00)",
    "StrataShop/4.1.0 (iPad; iOS 16.7; Scale/2.00)",
    "StrataShop/4.2.0 (iPhone; iOS 18.0; Scale/3.00)",
    "StrataShop/4.2.1 (Linux; Android 14; Pixel 8)",
    "StrataShop/4.0.3 (Linux; Android 13; SM-S911B)",
    "StrataShop/4.2.0 (Linux; Android 12; Redmi Note 11)",
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 SamsungBrowser/5.0 TV",
    "Mozilla/5.0 (X11; Linux armv7l) KioskBrowser/2.3",
)

# Extra PII columns of orders, which staging must drop.
FIRST_NAMES = (
    "ann", "bo", "carla", "deng", "emeka", "fatima", "george", "hana", "ivan", "jun",
    "kofi", "lucia", "mehmet", "nina", "omar", "priya", "quinn", "rosa", "sven", "tariq",
    "ursula", "viktor", "wen", "ximena", "yusuf", "zoe",
)  # fmt: skip
LAST_NAMES = (
    "smith", "garcia", "mueller", "tanaka", "wang", "okafor", "silva", "kowalski", "nguyen",
    "rossi", "o'brien", "haddad", "johansson", "patel", "kim", "dubois", "novak", "mendes",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
STREETS = (
    "Main St", "Elm Rd", "Oak Avenue", "High Street", "Station Rd", "Maple Drive",
    "Church Lane", "Mill Road", "O'Connell Street", "Rue de la Paix", "Harbour View",
    "Sakura-dori", "King's Parade", "Birch Court",
)  # fmt: skip
CITIES = (
    "Springfield", "Riverton", "Lakeside", "Fairview", "Greenville", "Kingston",
    "Portsmouth", "Osaka", "Lyon", "Toronto", "Perth", "Hangzhou", "Austin", "Leeds",
)  # fmt: skip
