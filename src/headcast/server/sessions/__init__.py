"""The live sessions the server holds and what feeds them: the registry (with its quotas),
speech pushed into a session one source at a time, and a session as WebRTC media."""
