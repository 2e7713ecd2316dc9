"""headcast: a portrait photo plus speech becomes a lip-synced talking-head video."""

__version__ = "0.1.0"
