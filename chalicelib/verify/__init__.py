"""Phone and email verification: start, check, the store, limits and counters, routing, sending,
channel choice, live codes and the attempts log."""
