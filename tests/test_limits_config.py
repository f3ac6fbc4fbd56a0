"""The catalog's limits section: parsed into rules, errors name the offending field."""

from __future__ import annotations

import re

import pytest

from tokenops.errors import ConfigError
from tokenops.limits import limits_doc, parse_limits


def test_demo_style_limits_round_trip_through_the_stored_document() -> None:
    data = {
        "rules": [{"name": "per-user", "tenant": "ringback-app", "per": "end_user", "rpm": 20}],
        "classes": {"acme": "gold"},
        "capacity": {"lite-east-1": 8},
        "shares": {"gold": 0.5},
    }
    config = parse_limits(data)
    assert config.rules[0].rpm == 20 and config.class_of("acme") == "gold" and config.class_of("x") == "silver"
    assert parse_limits(limits_doc(config)) == config


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rules": [{"per": "planet", "rpm": 1}]}, "rules[0].per"),
        ({"rules": [{"per": "key", "rpm": -1}]}, "rules[0].rpm"),
        ({"rules": [{"per": "key"}]}, "rules[0]"),
        ({"rules": [{"per": "key", "rpm": 1, "burst": 2}]}, "rules[0].burst"),
        ({"rules": [{"per": "key", "rpm": True}]}, "rules[0].rpm"),
        ({"classes": {"acme": "platinum"}}, "classes.acme"),
        ({"shares": {"gold": 0.8, "silver": 0.5}}, "shares"),
        ({"capacity": {"d": "lots"}}, "capacity.d"),
        ({"colour": 1}, "colour"),
    ],
)
def test_invalid_limits_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"catalog.limits.{field}")):
        parse_limits(data)
