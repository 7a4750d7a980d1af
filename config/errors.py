class ConfigError(Exception):
    """A configuration file is missing, unreadable or invalid; the message names file and key."""
