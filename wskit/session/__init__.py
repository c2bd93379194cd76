"""One connection's protocol, sans-I/O: handshake, tokens, inbound frames, the session, the agent."""
