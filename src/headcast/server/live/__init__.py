"""Live transports: the ``/v1/stream`` and OmniRT realtime WebSockets, WebRTC signalling and
the HTTP controls of a live session."""
