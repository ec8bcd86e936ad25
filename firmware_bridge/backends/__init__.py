"""Custom bleak backends (a bumble-based virtual radio for tests and demos without Bluetooth hardware)."""
