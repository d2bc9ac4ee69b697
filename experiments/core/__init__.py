"""The machinery every study shares: cells and their keys, the SQLite store, executors, rate
fits and configuration."""
