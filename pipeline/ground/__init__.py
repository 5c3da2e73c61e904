"""The ground floor: settings, the steering file, errors, logs, metrics, privacy and the
language catalogue, which every other part of kanalpuls uses and which use none of them."""
