"""The runtime's core: a user's stream as plain data and rules, no sockets, no tokens."""
