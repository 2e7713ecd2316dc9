"""The request/response routes: rendering, lip-sync tracks, portraits, jobs, pages, health."""
