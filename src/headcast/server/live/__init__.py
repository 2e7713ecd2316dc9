"""Live transports: ``/v1/stream`` and OmniRT realtime WebSockets, WebRTC, the HTTP controls of
a live session, and the registry of live sessions they share."""
