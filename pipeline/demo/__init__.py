"""`kanalpuls demo`: the whole pipeline on embedded parts, checked against the simulator's truth."""
