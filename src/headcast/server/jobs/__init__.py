"""Queued renders: job records, their stores (SQLite on one machine, Redis across replicas),
stored avatars and the worker threads that render them."""
