"""strata: daily user lifecycle stages and RFM segments, built with dbt."""

__version__ = "0.1.0"
