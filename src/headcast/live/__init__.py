"""Live sessions below any transport: the session protocol (``protocol.LiveSession``),
process-hosted sessions (``pool.SessionPool``) and the speech backlog they bound; the motion
worker (``motion_worker``); and the worker processes both kinds of process run on
(``worker_process``).

Nothing here knows HTTP; the server's transports depend on the protocol, not on a class.
"""
