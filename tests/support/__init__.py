"""What the tests share: real servers and their fixtures, job and video probes, browser and
WebRTC helpers, and a WebSocket flooding client."""
